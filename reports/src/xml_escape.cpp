// The one escaping writer for XML and HTML (see internal/xml_escape.h).
#include "racegate/reports/internal/xml_escape.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>

namespace racegate::reports::internal {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Decodes one UTF-8 sequence at text[i]. Returns its length and sets `cp`,
// or returns 0 when the bytes there are not a valid, shortest-form sequence
// of a scalar value.
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == ':' || c == '.';
  });
}

[[noreturn]] void misuse(const std::string& what) {
  throw std::logic_error("MarkupWriter: " + what);
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

void append_xml_escaped(std::string& out, std::string_view text, bool in_attribute) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    std::size_t len = decode_utf8(text, i, cp);
    if (len == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    switch (cp) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\r': out += "&#13;"; break;
      case '\n': in_attribute ? out += "&#10;" : out += '\n'; break;
      case '\t': in_attribute ? out += "&#9;" : out += '\t'; break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          out += "\\x";
          out += kHex[(cp >> 4) & 0xF];
          out += kHex[cp & 0xF];
        } else if (cp == 0xFFFE || cp == 0xFFFF) {
          out += kReplacement;
        } else {
          out.append(text.substr(i, len));
        }
    }
    i += len;
  }
}

std::string xml_escape(std::string_view text, bool in_attribute) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  append_xml_escaped(out, text, in_attribute);
  return out;
}

MarkupWriter::MarkupWriter(Syntax syntax) : syntax_(syntax) {}

bool MarkupWriter::is_void(std::string_view tag) const {
  static constexpr std::array<std::string_view, 13> kVoid = {
      "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
      "track", "wbr"};
  return syntax_ == Syntax::kHtml && std::find(kVoid.begin(), kVoid.end(), tag) != kVoid.end();
}

bool MarkupWriter::is_raw_text(std::string_view tag) const {
  return syntax_ == Syntax::kHtml && (tag == "script" || tag == "style");
}

void MarkupWriter::newline_and_indent(std::size_t depth) {
  if (!out_.empty() && out_.back() != '\n') out_ += '\n';
  out_.append(depth * 2, ' ');
}

void MarkupWriter::finish_start_tag() {
  if (stack_.empty() || !stack_.back().start_tag_open) return;
  if (is_void(stack_.back().tag)) misuse("void element <" + stack_.back().tag + "> has content");
  out_ += '>';
  stack_.back().start_tag_open = false;
}

MarkupWriter& MarkupWriter::open(std::string_view tag, Layout layout) {
  if (!valid_name(tag)) misuse("invalid tag name '" + std::string(tag) + "'");
  finish_start_tag();
  bool inline_content = layout == Layout::kInline;
  if (!stack_.empty() && stack_.back().inline_content) {
    inline_content = true;
  } else {
    if (!stack_.empty()) stack_.back().has_block_child = true;
    if (!out_.empty()) newline_and_indent(stack_.size());
  }
  out_ += '<';
  out_ += tag;
  stack_.push_back(Element{std::string(tag), inline_content, false, true});
  return *this;
}

MarkupWriter& MarkupWriter::attr(std::string_view name, std::string_view value) {
  if (stack_.empty() || !stack_.back().start_tag_open) {
    misuse("attribute '" + std::string(name) + "' after the start tag was closed");
  }
  if (!valid_name(name)) misuse("invalid attribute name '" + std::string(name) + "'");
  out_ += ' ';
  out_ += name;
  out_ += "=\"";
  append_xml_escaped(out_, value, /*in_attribute=*/true);
  out_ += '"';
  return *this;
}

MarkupWriter& MarkupWriter::text(std::string_view content) {
  if (stack_.empty()) misuse("text outside any element");
  if (is_raw_text(stack_.back().tag)) misuse("text inside <" + stack_.back().tag + ">");
  finish_start_tag();
  stack_.back().inline_content = true;
  append_xml_escaped(out_, content);
  return *this;
}

MarkupWriter& MarkupWriter::close() {
  if (stack_.empty()) misuse("close() with no open element");
  Element& e = stack_.back();
  if (e.start_tag_open) {
    if (syntax_ == Syntax::kXml) {
      out_ += "/>";
    } else {
      out_ += '>';
      if (!is_void(e.tag)) out_ += "</" + e.tag + '>';
    }
  } else {
    if (!e.inline_content && e.has_block_child) newline_and_indent(stack_.size() - 1);
    out_ += "</" + e.tag + '>';
  }
  stack_.pop_back();
  return *this;
}

MarkupWriter& MarkupWriter::leaf(std::string_view tag, std::string_view content) {
  return open(tag, Layout::kInline).text(content).close();
}

MarkupWriter& MarkupWriter::trusted_raw(std::string_view markup) {
  finish_start_tag();
  out_.append(markup);
  return *this;
}

std::string MarkupWriter::finish() && {
  while (!stack_.empty()) close();
  if (out_.empty() || out_.back() != '\n') out_ += '\n';
  return std::move(out_);
}

}  // namespace racegate::reports::internal
