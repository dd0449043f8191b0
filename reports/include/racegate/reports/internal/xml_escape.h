// racegate/reports/internal/xml_escape.h — the one escaping writer for XML and
// HTML, shared by every reporter that emits markup (JUnit, HTML with its inline
// SVG). Internal to racegate::reports: do not depend on it from outside.
//
// Everything that comes from a Run (case ids, messages, stack frames, captured
// output, source files) reaches markup only through MarkupWriter::text() and
// MarkupWriter::attr(), which escape it. Only constant markup written by the
// reporters themselves (CSS, the report's JavaScript, a DOCTYPE) goes through
// MarkupWriter::trusted_raw(). Never build markup by concatenating strings.
//
// Text is made safe for XML 1.0 and HTML at the same time:
//   * & < > " ' become character references;
//   * bytes that are not valid UTF-8 become U+FFFD;
//   * control characters that XML 1.0 forbids even as references (U+0000 to
//     U+001F except tab, newline and carriage return, and U+007F) are made
//     visible as the text "\x1b" (so ANSI colour codes in captured output
//     stay readable and the document stays well-formed); U+FFFE and U+FFFF
//     become U+FFFD;
//   * a carriage return is written as &#13; (parsers would drop a raw one), and
//     in attribute values tab and newline are written as references too, so
//     that attribute-value normalisation keeps them.
#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <vector>

namespace racegate::reports::internal {

// `text` as valid UTF-8: every byte that does not start a valid, shortest-form
// sequence of a Unicode scalar value becomes U+FFFD. Nothing else changes.
std::string to_valid_utf8(std::string_view text);

// Appends `text` to `out`, escaped as described above. `in_attribute` also
// escapes tab and newline.
void append_xml_escaped(std::string& out, std::string_view text, bool in_attribute = false);
[[nodiscard]] std::string xml_escape(std::string_view text, bool in_attribute = false);

// A streaming writer of well-formed XML or HTML with stable indentation.
//
//   MarkupWriter w(MarkupWriter::Syntax::kXml);
//   w.open("testsuite").attr("name", variant).open("testcase").attr("name", id).close();
//   std::string doc = std::move(w).finish();
//
// Layout: a block element starts on a new, indented line, and its end tag
// goes on a line of its own when it has block children. As soon as an
// element has text (or was opened kInline), it and everything inside it are
// written without added whitespace, so text content (a <pre>, a JUnit
// <failure>) is exactly what was given.
//
// HTML syntax knows the void elements (meta, br, input, ...: no end tag),
// writes an empty element as <td></td> rather than <td/>, and refuses text
// inside <script> and <style> (whose content is not escaped by HTML parsers:
// only trusted_raw() constants may go there). XML syntax writes an empty
// element as <tag/>.
//
// Misuse (close() with nothing open, attr() after content, an invalid tag or
// attribute name, text in a raw-text element) throws std::logic_error: it is a
// bug in a reporter, never a property of the data.
class MarkupWriter {
 public:
  enum class Syntax { kXml, kHtml };
  enum class Layout { kBlock, kInline };

  explicit MarkupWriter(Syntax syntax);
  MarkupWriter(const MarkupWriter&) = delete;
  MarkupWriter& operator=(const MarkupWriter&) = delete;
  MarkupWriter(MarkupWriter&&) = default;
  MarkupWriter& operator=(MarkupWriter&&) = default;

  // Starts element `tag`; attributes may be added until its first content.
  MarkupWriter& open(std::string_view tag, Layout layout = Layout::kBlock);
  MarkupWriter& attr(std::string_view name, std::string_view value);
  MarkupWriter& attr(std::string_view name, const char* value) {
    return attr(name, std::string_view(value));
  }
  MarkupWriter& attr(std::string_view name, const std::string& value) {
    return attr(name, std::string_view(value));
  }
  template <std::integral T>
  MarkupWriter& attr(std::string_view name, T value) {
    return attr(name, std::string_view(std::to_string(value)));
  }
  // Escaped text inside the innermost open element.
  MarkupWriter& text(std::string_view text);
  // Closes the innermost open element.
  MarkupWriter& close();
  // open(tag, kInline) + text(content) + close().
  MarkupWriter& leaf(std::string_view tag, std::string_view content);
  // Writes `markup` unchanged, at the current position. For constant markup
  // of the reporter itself only (an XML declaration, a DOCTYPE, CSS, script).
  MarkupWriter& trusted_raw(std::string_view markup);

  // Number of elements currently open.
  [[nodiscard]] std::size_t depth() const { return stack_.size(); }

  // Closes everything still open and returns the document (ending in a
  // newline).
  [[nodiscard]] std::string finish() &&;

 private:
  struct Element {
    std::string tag;
    bool inline_content = false;  // no whitespace may be added inside
    bool has_block_child = false;
    bool start_tag_open = true;   // "<tag attr=..." written, ">" not yet
  };

  void finish_start_tag();
  void newline_and_indent(std::size_t depth);
  [[nodiscard]] bool is_void(std::string_view tag) const;
  [[nodiscard]] bool is_raw_text(std::string_view tag) const;

  Syntax syntax_;
  std::string out_;
  std::vector<Element> stack_;
};

}  // namespace racegate::reports::internal
