// http/text: the words and templates of people-facing pages, one file per
// language in resolver/http/text/ (en.txt, cy.txt; page.html), compiled into
// the binary by cmake/embed_text.cmake. Handlers look strings up by key;
// nothing a pupil reads is a string literal in a handler.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace hedge::http {

struct EmbeddedFile {
  const char* name;
  const char* content;
};
extern const EmbeddedFile kEmbeddedFiles[];
extern const unsigned kEmbeddedFileCount;

// Content of resolver/http/text/NAME ("" if there is no such file).
std::string_view embedded_file(std::string_view name) noexcept;

// The strings of one language (parsed once, immutable, safe from any thread).
class Texts {
 public:
  // "en" or "cy"; anything else gives English. Keys missing from a language
  // fall back to English, then to the key itself (visible, never empty).
  static const Texts& get(std::string_view lang);
  std::string_view operator[](std::string_view key) const;
  bool has(std::string_view key) const { return m_map.count(std::string(key)) != 0; }
  std::string_view lang() const noexcept { return m_lang; }

 private:
  friend std::unique_ptr<Texts> load_texts(std::string_view lang, const Texts* fallback);
  std::string m_lang;
  std::unordered_map<std::string, std::string> m_map;
  const Texts* m_fallback = nullptr;
};

// Parses resolver/http/text/LANG.txt (Texts::get() keeps one per language).
std::unique_ptr<Texts> load_texts(std::string_view lang, const Texts* fallback);

// Replaces each {name} in tmpl with its value (values must already be escaped).
std::string fill(std::string_view tmpl,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> vars);

// The language for a page: ?lang=xx in the query, then the best of en/cy by
// Accept-Language q-values, else the configured default.
std::string pick_language(std::string_view query, const std::string* accept_language, std::string_view dflt);

}  // namespace hedge::http
