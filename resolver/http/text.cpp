// http/text: lookup of embedded files, the key = value text format, language choice.
#include "http/text.hpp"

#include <cstdlib>
#include <memory>

#include "http/message.hpp"

namespace hedge::http {

std::string_view embedded_file(std::string_view name) noexcept {
  for (unsigned i = 0; i < kEmbeddedFileCount; ++i)
    if (name == kEmbeddedFiles[i].name) return kEmbeddedFiles[i].content;
  return {};
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
}  // namespace

const Texts& Texts::get(std::string_view lang) {
  static const std::unique_ptr<Texts> en = load_texts("en", nullptr);
  static const std::unique_ptr<Texts> cy = load_texts("cy", en.get());
  return lang == "cy" ? *cy : *en;
}

std::unique_ptr<Texts> load_texts(std::string_view lang, const Texts* fallback) {
  auto t = std::make_unique<Texts>();
  std::string_view file = embedded_file(std::string(lang) + ".txt");
  std::unordered_map<std::string, std::string>& map = t->m_map;
  while (!file.empty()) {
    const std::size_t nl = file.find('\n');
    std::string_view line = trim(file.substr(0, nl));
    file = nl == std::string_view::npos ? std::string_view{} : file.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    map.emplace(std::string(trim(line.substr(0, eq))), std::string(trim(line.substr(eq + 1))));
  }
  t->m_lang = std::string(lang);
  t->m_fallback = fallback;
  return t;
}

std::string_view Texts::operator[](std::string_view key) const {
  if (auto it = m_map.find(std::string(key)); it != m_map.end()) return it->second;
  if (m_fallback) return (*m_fallback)[key];
  return key;
}

std::string fill(std::string_view tmpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> vars) {
  std::string out;
  out.reserve(tmpl.size() + 256);
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t open = tmpl.find('{', i);
    if (open == std::string_view::npos) break;
    const std::size_t close = tmpl.find('}', open);
    if (close == std::string_view::npos) break;
    const std::string_view name = tmpl.substr(open + 1, close - open - 1);
    bool found = false;
    for (const auto& [k, v] : vars) {
      if (k == name) {
        out.append(tmpl.substr(i, open - i));
        out.append(v);
        found = true;
        break;
      }
    }
    if (!found) out.append(tmpl.substr(i, close + 1 - i));  // CSS braces and unknown names stay as written
    i = close + 1;
  }
  out.append(tmpl.substr(i));
  return out;
}

std::string pick_language(std::string_view query, const std::string* accept_language, std::string_view dflt) {
  std::string q = form_value(parse_form(query), "lang");
  if (q == "en" || q == "cy") return q;
  if (accept_language) {
    // "cy-GB,cy;q=0.9,en;q=0.8": the supported language with the highest q wins.
    double best_q = 0;
    std::string best;
    std::string_view s = *accept_language;
    while (!s.empty()) {
      const std::size_t comma = s.find(',');
      std::string_view item = trim(s.substr(0, comma));
      s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
      double qv = 1.0;
      if (const std::size_t semi = item.find(';'); semi != std::string_view::npos) {
        std::string_view param = trim(item.substr(semi + 1));
        item = trim(item.substr(0, semi));
        if (param.size() > 2 && param[0] == 'q' && param[1] == '=')
          qv = std::strtod(std::string(param.substr(2)).c_str(), nullptr);
      }
      std::string tag(item.substr(0, item.find('-')));
      for (auto& c : tag) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
      if ((tag == "en" || tag == "cy") && qv > best_q) {
        best_q = qv;
        best = tag;
      }
    }
    if (!best.empty()) return best;
  }
  return std::string(dflt == "cy" ? "cy" : "en");
}

}  // namespace hedge::http
