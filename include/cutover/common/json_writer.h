// JsonWriter: appends JSON text to a string, without building a document first.
//
// Capture writes one JSON object per change, tens of thousands per second; building them as
// nlohmann::json documents spent most of capture's time in allocation and teardown. The
// writer keeps the output well-formed by tracking only whether a comma is due. Strings are
// expected to be UTF-8 (blue's encoding is checked to be UTF8 before capture starts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cutover {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& begin_object() {
    separate();
    out_ += '{';
    first_ = true;
    return *this;
  }
  JsonWriter& end_object() {
    out_ += '}';
    first_ = false;
    return *this;
  }
  JsonWriter& begin_array() {
    separate();
    out_ += '[';
    first_ = true;
    return *this;
  }
  JsonWriter& end_array() {
    out_ += ']';
    first_ = false;
    return *this;
  }
  // The next value belongs to `name`.
  JsonWriter& key(std::string_view name) {
    separate();
    quoted(name);
    out_ += ':';
    first_ = true;  // the value follows without a comma
    return *this;
  }
  JsonWriter& string(std::string_view text) {
    separate();
    quoted(text);
    return *this;
  }
  JsonWriter& number(std::int64_t value) {
    separate();
    out_ += std::to_string(value);
    return *this;
  }
  JsonWriter& unsigned_number(std::uint64_t value) {
    separate();
    out_ += std::to_string(value);
    return *this;
  }
  JsonWriter& boolean(bool value) {
    separate();
    out_ += value ? "true" : "false";
    return *this;
  }
  JsonWriter& null() {
    separate();
    out_ += "null";
    return *this;
  }
  // A value that is JSON text already (checked by whoever made it).
  JsonWriter& raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
  }

 private:
  void separate() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void quoted(std::string_view text);

  std::string& out_;
  bool first_ = true;
};

}  // namespace cutover
