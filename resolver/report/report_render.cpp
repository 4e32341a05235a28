// report/report_render: HTML with SVG charts and print CSS; CSV.
#include "report/report_render.hpp"

#include <algorithm>
#include <cstdio>

#include "http/message.hpp"

namespace hedge::report {

namespace {

// Colour-blind-safe palette (Okabe-Ito), dark enough for white text gaps.
constexpr const char* kColours[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00",
                                    "#56B4E9", "#8a7a00", "#555555", "#999999"};

constexpr const char* kCss = R"(
:root{--ink:#1b1b1b;--muted:#555;--line:#c8c8c8;--accent:#0b5394;--bg:#fff}
*{box-sizing:border-box}
body{font-family:"DejaVu Sans",Verdana,Arial,sans-serif;color:var(--ink);background:var(--bg);margin:0;line-height:1.45}
main{max-width:1000px;margin:0 auto;padding:24px}
header.report{border-bottom:3px solid var(--accent);margin-bottom:16px;padding-bottom:8px}
h1{font-size:1.6rem;margin:0 0 4px}
h2{font-size:1.15rem;margin:28px 0 8px;color:var(--accent)}
p.meta{color:var(--muted);margin:0}
.summary{background:#f2f6fb;border-left:4px solid var(--accent);padding:8px 16px;margin:16px 0}
.summary p{margin:8px 0}
table{border-collapse:collapse;width:100%;margin:4px 0 8px;font-size:.9rem}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#eef1f4}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.sup{color:#6b4e00;font-style:italic}
td.omit{color:var(--muted);font-style:italic}
tr.total td{font-weight:bold;background:#f7f7f7}
p.note{color:var(--muted);font-size:.85rem;margin:2px 0 8px}
figure{margin:8px 0 16px}
figcaption{font-size:.85rem;color:var(--muted)}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.85rem;margin:4px 0;padding:0;list-style:none}
.legend span{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
nav.screen{margin-bottom:12px}
nav.screen a{color:var(--accent);margin-right:16px}
@media print{
  nav.screen{display:none}
  main{max-width:none;padding:0}
  body{font-size:10pt}
  h2{break-after:avoid}
  table,figure{break-inside:auto}
  tr{break-inside:avoid}
  .summary{break-after:page;background:none;border:1px solid #999}
  @page{size:A4;margin:15mm}
}
)";

std::string fmt_num(int64_t v) {
  // 12345 -> 12,345 (easier to read for everyone).
  std::string s = std::to_string(v < 0 ? -v : v), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string cell_text(const Cell& c) {
  if (c.numeric && !c.suppressed && !c.omitted) return fmt_num(c.n);
  return c.text;
}

}  // namespace

// The one HTML escaper (http/message), so pages and reports cannot differ.
std::string escape(std::string_view s) {
  return http::html_escape(s);
}

std::string csv_field(std::string_view s) {
  std::string v(s);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r') && v != "-")
    v.insert(v.begin(), '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string o = "\"";
  for (char c : v) {
    if (c == '"') o += '"';
    o += c;
  }
  return o + "\"";
}

std::string render_svg(const Chart& c, int width, int height) {
  const int left = 56, right = 8, top = 12;
  // X labels sit level under their bars when they fit there (about 6.5 px a
  // character at 11 px); otherwise they are turned 45 degrees, and the bottom
  // margin grows to hold the longest one whole ("w/c 10-01", not "/c 10-01").
  std::size_t longest = 0;
  for (const auto& l : c.labels) longest = std::max(longest, l.size());
  const double slot = c.labels.empty()
                          ? 0.0
                          : static_cast<double>(width - left - right) / static_cast<double>(c.labels.size());
  const bool level = slot >= 6.5 * static_cast<double>(longest) + 4.0;
  const int bottom = level ? 40 : 24 + static_cast<int>(5.0 * static_cast<double>(longest));
  const int pw = width - left - right, ph = height - top - bottom;
  int64_t maxv = 0;
  for (const auto& v : c.values) {
    int64_t s = 0;
    for (auto x : v) s += x;
    maxv = std::max(maxv, s);
  }
  // A round axis maximum: 1, 2 or 5 times a power of ten.
  int64_t step = 1;
  while (step * 5 < maxv) step *= 10;
  int64_t axis = step;
  for (int64_t m : {1, 2, 5, 10})
    if (step * m >= maxv) {
      axis = step * m;
      break;
    }
  if (axis == 0) axis = 1;
  std::string o;
  char buf[256];
  std::snprintf(
      buf, sizeof buf,
      "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"100%%\" role=\"img\" "
      "aria-label=\"",
      width, height);
  o += buf;
  o += escape(c.title) + "\">";
  o += "<title>" + escape(c.title) + "</title>";
  // Grid and y labels.
  for (int i = 0; i <= 4; ++i) {
    const double y = top + ph - ph * i / 4.0;
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\" fill=\"#444\">",
                  left, left + pw, y, y, left - 6, y + 4);
    o += buf;
    o += fmt_num(axis * i / 4) + "</text>";
  }
  const std::size_t n = c.labels.size();
  if (n > 0) {
    const double bw = static_cast<double>(pw) / static_cast<double>(n);
    const std::size_t label_every = level ? 1 : std::max<std::size_t>(1, n / 15);
    for (std::size_t i = 0; i < n; ++i) {
      double y = top + ph;
      const double x = left + bw * static_cast<double>(i) + bw * 0.1;
      bool any_sup = false;
      for (std::size_t s = 0; s < c.series.size() && s < c.values[i].size(); ++s) {
        const bool sup = i < c.suppressed.size() && s < c.suppressed[i].size() && c.suppressed[i][s];
        any_sup = any_sup || sup;
        if (sup || c.values[i][s] <= 0) continue;  // a suppressed count is never drawn to scale
        const double h = ph * static_cast<double>(c.values[i][s]) / static_cast<double>(axis);
        y -= h;
        std::snprintf(buf, sizeof buf,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x, y,
                      bw * 0.8, h, kColours[s % 9]);
        o += buf;
        o += escape(c.labels[i] + ": " + c.series[s] + " " + fmt_num(c.values[i][s])) + "</title></rect>";
      }
      if (any_sup) {
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\" "
                      "fill=\"#6b4e00\">&lt;5</text>",
                      x + bw * 0.4, y - 3);
        o += buf;
      }
      if (level) {
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444\">",
                      x + bw * 0.4, top + ph + 16);
        o += buf;
        o += escape(c.labels[i]) + "</text>";
      } else if (i % label_every == 0) {
        std::snprintf(buf, sizeof buf,
                      "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\" "
                      "transform=\"rotate(-45 %.1f %d)\">",
                      x + bw * 0.4, top + ph + 14, x + bw * 0.4, top + ph + 14);
        o += buf;
        o += escape(c.labels[i]) + "</text>";
      }
    }
  }
  std::snprintf(buf, sizeof buf, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>", left,
                left + pw, top + ph, top + ph);
  o += buf;
  o += "</svg>";
  return o;
}

std::string render_html(const Report& r, const HtmlOptions& opt) {
  std::string o =
      "<!doctype html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  o += "<title>" + escape(r.title + " - " + r.period) + "</title><style>" + kCss +
       "</style></head><body><main>";
  if (!opt.back_link.empty() || !opt.csv_link.empty()) {
    o += "<nav class=\"screen\">";
    if (!opt.back_link.empty()) o += "<a href=\"" + escape(opt.back_link) + "\">Back to the console</a>";
    if (!opt.csv_link.empty()) o += "<a href=\"" + escape(opt.csv_link) + "\">Download as CSV</a>";
    o += "<span>Use your browser's Print, then Save as PDF, for a clean copy.</span></nav>";
  }
  o += "<header class=\"report\"><h1>" + escape(r.title) + "</h1><p class=\"meta\">" + escape(r.school) +
       " &middot; " + escape(r.period) + "</p><p class=\"meta\">Made by Hedge on " + escape(r.generated) +
       "</p></header>";
  o += "<section class=\"summary\" aria-label=\"Summary\"><h2>Summary</h2>";
  for (const auto& p : r.summary) o += "<p>" + escape(p) + "</p>";
  if (r.kind == Kind::governor)
    o += "<p>To protect pupils' privacy this report names no person, device, address or website, and any "
         "count "
         "from 1 to 4 is shown as &ldquo;&lt;5&rdquo;.</p>";
  o += "</section>";
  for (const auto& c : r.charts) {
    o += "<figure><h2>" + escape(c.title) + "</h2>" + render_svg(c);
    if (c.series.size() > 1) {
      o += "<ul class=\"legend\">";
      for (std::size_t s = 0; s < c.series.size(); ++s)
        o += std::string("<li><span style=\"background:") + kColours[s % 9] + "\"></span>" +
             escape(c.series[s]) + "</li>";
      o += "</ul>";
    }
    o += "</figure>";
  }
  for (const auto& t : r.tables) {
    o += "<section id=\"" + escape(t.id) + "\"><h2>" + escape(t.title) + "</h2>";
    if (!t.note.empty()) o += "<p class=\"note\">" + escape(t.note) + "</p>";
    if (!t.rows.empty()) {
      o += "<table><thead><tr>";
      for (const auto& h : t.head) o += "<th scope=\"col\">" + escape(h) + "</th>";
      o += "</tr></thead><tbody>";
      for (const auto& row : t.rows) {
        const bool total = !row.empty() && row.front().text == "Total";
        o += total ? "<tr class=\"total\">" : "<tr>";
        for (const auto& c : row) {
          const char* cls = c.suppressed ? " class=\"n sup\""
                            : c.omitted  ? " class=\"n omit\""
                            : c.numeric  ? " class=\"n\""
                                         : "";
          o += std::string("<td") + cls + ">" + escape(cell_text(c)) + "</td>";
        }
        o += "</tr>";
      }
      o += "</tbody></table>";
    }
    o += "</section>";
  }
  o += "</main></body></html>\n";
  return o;
}

std::string render_csv(const Report& r) {
  std::string o = csv_field(r.title) + "," + csv_field(r.school) + "," + csv_field(r.period) + "\r\n";
  for (const auto& t : r.tables) {
    o += "\r\n" + csv_field("# " + t.title) + "\r\n";
    for (std::size_t i = 0; i < t.head.size(); ++i) o += (i ? "," : "") + csv_field(t.head[i]);
    o += "\r\n";
    for (const auto& row : t.rows) {
      for (std::size_t i = 0; i < row.size(); ++i) {
        const auto& c = row[i];
        o += (i ? "," : "") +
             csv_field(c.numeric && !c.suppressed && !c.omitted ? std::to_string(c.n) : c.text);
      }
      o += "\r\n";
    }
  }
  return o;
}

}  // namespace hedge::report
