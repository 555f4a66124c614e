#include "cutover/common/json_writer.h"

namespace cutover {

void JsonWriter::quoted(std::string_view text) {
  static const char* kHex = "0123456789abcdef";
  out_ += '"';
  std::size_t plain_from = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    const auto character = static_cast<unsigned char>(text[at]);
    if (character >= 0x20 && character != '"' && character != '\\') continue;
    out_.append(text.data() + plain_from, at - plain_from);
    plain_from = at + 1;
    switch (character) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      default:
        out_ += "\\u00";
        out_ += kHex[character >> 4];
        out_ += kHex[character & 15];
    }
  }
  out_.append(text.data() + plain_from, text.size() - plain_from);
  out_ += '"';
}

}  // namespace cutover
