// report/report_render: a Report as a standalone HTML document (inline CSS
// with a print stylesheet, server-rendered SVG charts, no script, nothing
// fetched) or as CSV (one section per table). Pure: text in, text out.
#pragma once

#include <string>

#include "report/report_model.hpp"

namespace hedge::report {

struct HtmlOptions {
  std::string back_link;  // console: "/" shown on screen only; empty for `hedge report`
  std::string csv_link;   // console: link to the same report as CSV
};

std::string render_html(const Report& r, const HtmlOptions& o = {});
std::string render_csv(const Report& r);
// A stacked bar chart as inline SVG (exposed for the dashboard).
std::string render_svg(const Chart& c, int width = 960, int height = 260);

// HTML text/attribute escaping (& < > " ').
std::string escape(std::string_view s);
// One CSV field (RFC 4180 quoting; a leading = + - @ is defused with ').
std::string csv_field(std::string_view s);

}  // namespace hedge::report
