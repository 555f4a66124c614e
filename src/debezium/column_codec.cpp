#include "cutover/debezium/column_codec.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

namespace cutover::debezium {

namespace {

// PostgreSQL's built-in type OIDs (pg_type.dat), the ones the mapping names.
enum Oid : std::uint32_t {
  kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21, kInt4 = 23,
  kText = 25, kOid = 26, kJson = 114, kXml = 142, kCidr = 650, kFloat4 = 700, kFloat8 = 701,
  kMacaddr8 = 774, kMoney = 790, kMacaddr = 829, kInet = 869, kBpchar = 1042, kVarchar = 1043,
  kDate = 1082, kTime = 1083, kTimestamp = 1114, kTimestamptz = 1184, kInterval = 1186,
  kTimetz = 1266, kBit = 1560, kVarbit = 1562, kNumeric = 1700, kUuid = 2950, kJsonb = 3802,
  kInt4range = 3904, kNumrange = 3906, kTsrange = 3908, kTstzrange = 3910, kDaterange = 3912,
  kInt8range = 3926,
};

constexpr std::int64_t kMicrosPerSecond = 1000000;
constexpr std::int64_t kMicrosPerDay = 86400 * kMicrosPerSecond;
// Debezium's month in a duration: 365.25 / 12 days.
constexpr std::int64_t kMicrosPerMonth = 2629800 * kMicrosPerSecond;
// What Debezium writes for PostgreSQL's infinite dates and timestamps (PgJDBC's infinity
// timestamps of 9223372036825200000 and -9223372036832400000 milliseconds, turned into the
// column's unit as Debezium does).
constexpr std::int32_t kDatePositiveInfinity = -2147472692;
constexpr std::int32_t kDateNegativeInfinity = -2147472691;
constexpr std::int64_t kMicroTimestampPositiveInfinity = 9223372036825200000;
constexpr std::int64_t kMicroTimestampNegativeInfinity = -9223372036832400000;

Status unreadable(const ColumnType& type, std::string_view text) {
  std::string shown(text.substr(0, 60));
  return Status::error("debezium stream: cannot read the " + type.name + " value '" + shown +
                       "' from blue's text form");
}

bool is_string_like(std::uint32_t oid) {
  switch (oid) {
    case kChar: case kName: case kText: case kBpchar: case kVarchar: case kCidr: case kInet:
    case kMacaddr: case kMacaddr8: case kInt4range: case kNumrange: case kTsrange:
    case kTstzrange: case kDaterange: case kInt8range: case kJson: case kJsonb: case kXml:
    case kUuid: case kTimetz: case kTimestamptz:
      return true;
    default:
      return false;
  }
}

// The precision a time or timestamp column keeps: its modifier, 6 when it has none.
int fractional_digits(const ColumnType& type) { return type.modifier < 0 ? 6 : type.modifier; }

struct NumericModifier {
  int precision;
  int scale;
};
std::optional<NumericModifier> numeric_modifier(std::int32_t modifier) {
  if (modifier < 4) return std::nullopt;
  const std::int32_t packed = modifier - 4;
  // PostgreSQL 15 and later keep a scale of -1000..1000 in the low 11 bits, sign-extended.
  int scale = packed & 0x7ff;
  if (scale & 0x400) scale -= 0x800;
  return NumericModifier{(packed >> 16) & 0xffff, scale};
}

// ---- numbers -------------------------------------------------------------------------------

// A signed decimal integer's two's-complement bytes, big-endian and minimal (Java's
// BigInteger.toByteArray, which Kafka Connect's Decimal writes).
std::string twos_complement(std::string_view digits, bool negative) {
  std::string magnitude;  // big-endian, no leading zero bytes
  for (char digit : digits) {
    unsigned carry = static_cast<unsigned>(digit - '0');
    for (auto at = magnitude.rbegin(); at != magnitude.rend(); ++at) {
      const unsigned value = static_cast<unsigned char>(*at) * 10u + carry;
      *at = static_cast<char>(value & 0xff);
      carry = value >> 8;
    }
    while (carry) {
      magnitude.insert(magnitude.begin(), static_cast<char>(carry & 0xff));
      carry >>= 8;
    }
  }
  if (magnitude.empty() || std::all_of(magnitude.begin(), magnitude.end(), [](char c) { return c == 0; })) {
    return std::string(1, '\0');
  }
  while (magnitude.size() > 1 && magnitude[0] == 0) magnitude.erase(magnitude.begin());
  if (!negative) {
    if (static_cast<unsigned char>(magnitude[0]) & 0x80) magnitude.insert(magnitude.begin(), '\0');
    return magnitude;
  }
  std::string bytes = magnitude;
  unsigned carry = 1;
  for (auto at = bytes.rbegin(); at != bytes.rend(); ++at) {
    const unsigned value = (~static_cast<unsigned char>(*at) & 0xffu) + carry;
    *at = static_cast<char>(value & 0xff);
    carry = value >> 8;
  }
  if (!(static_cast<unsigned char>(bytes[0]) & 0x80)) bytes.insert(bytes.begin(), static_cast<char>(0xff));
  while (bytes.size() > 1 && static_cast<unsigned char>(bytes[0]) == 0xff &&
         (static_cast<unsigned char>(bytes[1]) & 0x80)) {
    bytes.erase(bytes.begin());
  }
  return bytes;
}

// A decimal number's parts: "-0012.3400" is negative, "0012", "3400".
struct Decimal {
  bool negative = false;
  std::string integer;
  std::string fraction;
};
std::optional<Decimal> parse_decimal(std::string_view text) {
  Decimal decimal;
  std::size_t at = 0;
  if (at < text.size() && (text[at] == '-' || text[at] == '+')) decimal.negative = text[at++] == '-';
  const std::size_t dot = text.find('.', at);
  decimal.integer = std::string(text.substr(at, dot == std::string_view::npos ? std::string_view::npos : dot - at));
  if (dot != std::string_view::npos) decimal.fraction = std::string(text.substr(dot + 1));
  if (decimal.integer.empty() && decimal.fraction.empty()) return std::nullopt;
  auto digits_only = [](const std::string& part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits_only(decimal.integer) || !digits_only(decimal.fraction)) return std::nullopt;
  return decimal;
}

// The unscaled value's bytes at `scale` fractional digits (the text has at most that many).
std::optional<std::string> unscaled_bytes(const Decimal& decimal, int scale) {
  if (scale < 0 || static_cast<int>(decimal.fraction.size()) > scale) return std::nullopt;
  std::string digits = decimal.integer + decimal.fraction;
  digits.append(static_cast<std::size_t>(scale) - decimal.fraction.size(), '0');
  return twos_complement(digits, decimal.negative);
}

bool is_special_number(std::string_view text) {
  return text == "NaN" || text == "Infinity" || text == "-Infinity";
}

// PostgreSQL's money under lc_monetary C: "$1,234.56", "-$1,234.56".
std::string money_digits(std::string_view text) {
  std::string plain;
  for (char c : text) {
    if (c != '$' && c != ',') plain += c;
  }
  return plain;
}

template <typename Integer>
std::optional<Integer> parse_integer(std::string_view text) {
  Integer value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A JSON number from PostgreSQL's float text, or Jackson's string for the values JSON lacks.
void write_float(JsonWriter& out, std::string_view text) {
  if (is_special_number(text)) {
    out.string(text);
  } else {
    out.raw(text);
  }
}

bool looks_like_json_number(std::string_view text) {
  if (text.empty()) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
  });
}

// ---- dates and times -----------------------------------------------------------------------

// Days since 1970-01-01 of a proleptic Gregorian date (astronomical years: 1 BC is 0).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};
Civil civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  return {static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2), month, day};
}

// Reads digits at `at`, moving past them; nullopt when there are none.
std::optional<std::int64_t> read_number(std::string_view text, std::size_t& at) {
  const std::size_t from = at;
  while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
  if (at == from || at - from > 18) return std::nullopt;
  return parse_integer<std::int64_t>(text.substr(from, at - from));
}

bool expect(std::string_view text, std::size_t& at, char wanted) {
  if (at >= text.size() || text[at] != wanted) return false;
  ++at;
  return true;
}

// "YYYY-MM-DD" at `at` (ISO DateStyle; years may have more than four digits).
std::optional<std::int64_t> read_date(std::string_view text, std::size_t& at) {
  auto year = read_number(text, at);
  if (!year || !expect(text, at, '-')) return std::nullopt;
  auto month = read_number(text, at);
  if (!month || !expect(text, at, '-')) return std::nullopt;
  auto day = read_number(text, at);
  if (!day || *month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  return days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
}

// "HH:MM:SS[.ffffff]" at `at`: microseconds, and the fraction's digits as written.
struct ClockTime {
  std::int64_t micros = 0;
  std::string fraction;
};
std::optional<ClockTime> read_clock(std::string_view text, std::size_t& at) {
  auto hours = read_number(text, at);
  if (!hours || !expect(text, at, ':')) return std::nullopt;
  auto minutes = read_number(text, at);
  if (!minutes || !expect(text, at, ':')) return std::nullopt;
  auto seconds = read_number(text, at);
  if (!seconds) return std::nullopt;
  ClockTime clock;
  clock.micros = ((*hours * 60 + *minutes) * 60 + *seconds) * kMicrosPerSecond;
  if (at < text.size() && text[at] == '.') {
    const std::size_t from = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    clock.fraction = std::string(text.substr(from, at - from));
    if (clock.fraction.empty() || clock.fraction.size() > 6) return std::nullopt;
    std::string padded = clock.fraction;
    padded.append(6 - padded.size(), '0');
    clock.micros += *parse_integer<std::int64_t>(padded);
  }
  return clock;
}

// A UTC offset "+05", "-08:00", "+05:30:15" at `at`, in seconds east of UTC.
std::optional<std::int64_t> read_offset(std::string_view text, std::size_t& at) {
  if (at >= text.size() || (text[at] != '+' && text[at] != '-')) return std::nullopt;
  const bool west = text[at++] == '-';
  auto hours = read_number(text, at);
  if (!hours) return std::nullopt;
  std::int64_t seconds = *hours * 3600;
  for (std::int64_t unit : {60, 1}) {
    if (at < text.size() && text[at] == ':') {
      ++at;
      auto part = read_number(text, at);
      if (!part) return std::nullopt;
      seconds += *part * unit;
    }
  }
  return west ? -seconds : seconds;
}

bool read_era(std::string_view text, std::size_t& at) {
  if (text.substr(at) == " BC") {
    at = text.size();
    return true;
  }
  return false;
}

// A timestamp's microseconds since the epoch (UTC for timestamptz, whose session is in UTC),
// with the fraction's digits as written.
struct Instant {
  std::int64_t micros = 0;
  std::string fraction;
};
std::optional<Instant> read_timestamp(std::string_view text, bool with_zone) {
  std::size_t at = 0;
  auto date_start = at;
  auto days = read_date(text, at);
  if (!days || !expect(text, at, ' ')) return std::nullopt;
  auto clock = read_clock(text, at);
  if (!clock) return std::nullopt;
  std::int64_t offset = 0;
  if (with_zone) {
    auto read = read_offset(text, at);
    if (!read) return std::nullopt;
    offset = *read;
  }
  if (read_era(text, at)) {
    // "0044-03-15 ... BC" is astronomical year -43.
    std::size_t year_at = date_start;
    auto year = read_number(text, year_at);
    std::size_t month_at = year_at + 1;
    auto month = read_number(text, month_at);
    std::size_t day_at = month_at + 1;
    auto day = read_number(text, day_at);
    days = days_from_civil(1 - *year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
  }
  if (at != text.size()) return std::nullopt;
  return Instant{*days * kMicrosPerDay + clock->micros - offset * kMicrosPerSecond, clock->fraction};
}

std::int64_t floor_divide(std::int64_t value, std::int64_t divisor) {
  std::int64_t quotient = value / divisor;
  if ((value % divisor != 0) && ((value < 0) != (divisor < 0))) --quotient;
  return quotient;
}

std::string two_digits(std::int64_t value) {
  return std::string(1, static_cast<char>('0' + value / 10)) + static_cast<char>('0' + value % 10);
}

// "2024-03-04T08:00:00.500000Z": ISO 8601 in UTC, the fraction at the column's precision.
std::string zoned_timestamp(std::int64_t micros, int digits) {
  const std::int64_t days = floor_divide(micros, kMicrosPerDay);
  std::int64_t of_day = micros - days * kMicrosPerDay;
  const Civil civil = civil_from_days(days);
  std::string text;
  std::int64_t year = civil.year;
  if (year < 0) {
    text += '-';
    year = -year;
  } else if (year > 9999) {
    text += '+';
  }
  std::string year_text = std::to_string(year);
  if (year_text.size() < 4) year_text.insert(0, 4 - year_text.size(), '0');
  text += year_text + "-" + two_digits(civil.month) + "-" + two_digits(civil.day) + "T";
  const std::int64_t seconds = of_day / kMicrosPerSecond;
  text += two_digits(seconds / 3600) + ":" + two_digits(seconds / 60 % 60) + ":" + two_digits(seconds % 60);
  if (digits > 0) {
    std::string fraction = std::to_string(of_day % kMicrosPerSecond);
    fraction.insert(0, 6 - fraction.size(), '0');
    text += "." + fraction.substr(0, static_cast<std::size_t>(std::min(digits, 6)));
  }
  return text + "Z";
}

// An interval in IntervalStyle postgres ("1 year 2 mons -3 days +04:05:06.789") in Debezium's
// microseconds, saturating where Debezium's double arithmetic would.
std::optional<std::int64_t> interval_micros(std::string_view text) {
  // long double holds every int64 exactly, and sums beyond it saturate below.
  long double total = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && text[at] == ' ') ++at;
    if (at >= text.size()) break;
    const std::size_t token_end = std::min(text.find(' ', at), text.size());
    const std::string_view token = text.substr(at, token_end - at);
    if (token.find(':') != std::string_view::npos) {
      std::size_t inner = 0;
      bool negative = false;
      if (token[0] == '-' || token[0] == '+') negative = token[inner++] == '-';
      auto clock = read_clock(token, inner);
      if (!clock || inner != token.size()) return std::nullopt;
      total += static_cast<long double>(negative ? -clock->micros : clock->micros);
      at = token_end;
      continue;
    }
    auto number = parse_integer<std::int64_t>(token[0] == '+' ? token.substr(1) : token);
    if (!number) return std::nullopt;
    at = token_end;
    while (at < text.size() && text[at] == ' ') ++at;
    const std::size_t unit_end = std::min(text.find(' ', at), text.size());
    const std::string_view unit = text.substr(at, unit_end - at);
    at = unit_end;
    if (unit == "year" || unit == "years") {
      total += static_cast<long double>(*number) * 12 * kMicrosPerMonth;
    } else if (unit == "mon" || unit == "mons") {
      total += static_cast<long double>(*number) * kMicrosPerMonth;
    } else if (unit == "day" || unit == "days") {
      total += static_cast<long double>(*number) * kMicrosPerDay;
    } else {
      return std::nullopt;
    }
  }
  if (total >= 9223372036854775807.0L) return std::numeric_limits<std::int64_t>::max();
  if (total <= -9223372036854775808.0L) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(total);
}

// ---- bytes ---------------------------------------------------------------------------------

std::optional<std::string> bytea_bytes(std::string_view text) {
  if (text.substr(0, 2) != "\\x" || text.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  bytes.reserve(text.size() / 2 - 1);
  for (std::size_t at = 2; at < text.size(); at += 2) {
    const int high = nibble(text[at]);
    const int low = nibble(text[at + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes += static_cast<char>(high << 4 | low);
  }
  return bytes;
}

std::string hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

void write_binary(JsonWriter& out, const ValueModes& modes, std::string_view bytes) {
  out.string(modes.binary == BinaryHandling::kHex ? hex(bytes) : base64(bytes));
}

// A bit string's value as Debezium's Bits: the number's bytes, least significant first,
// without leading zero bytes (so all zeros is no bytes at all).
std::optional<std::string> bits_bytes(std::string_view text) {
  std::string big_endian;
  std::size_t first = text.size() % 8;
  auto byte_of = [&](std::string_view bits) -> std::optional<char> {
    unsigned value = 0;
    for (char bit : bits) {
      if (bit != '0' && bit != '1') return std::nullopt;
      value = value << 1 | static_cast<unsigned>(bit - '0');
    }
    return static_cast<char>(value);
  };
  if (first) {
    auto byte = byte_of(text.substr(0, first));
    if (!byte) return std::nullopt;
    big_endian += *byte;
  }
  for (std::size_t at = first; at < text.size(); at += 8) {
    auto byte = byte_of(text.substr(at, 8));
    if (!byte) return std::nullopt;
    big_endian += *byte;
  }
  std::size_t leading = 0;
  while (leading < big_endian.size() && big_endian[leading] == 0) ++leading;
  std::string little_endian(big_endian.rbegin(), big_endian.rend() - static_cast<std::ptrdiff_t>(leading));
  return little_endian;
}

// ---- arrays --------------------------------------------------------------------------------

// A one-dimensional array literal's elements ("{1,NULL,\"a b\"}"); nullopt for an element
// NULL. Multi-dimensional arrays and explicit bounds are not read (is_supported says so).
std::optional<std::vector<std::optional<std::string>>> array_elements(std::string_view text) {
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  std::vector<std::optional<std::string>> elements;
  std::size_t at = 1;
  const std::size_t end = text.size() - 1;
  if (at == end) return elements;
  while (at <= end) {
    std::string element;
    bool quoted = false;
    if (text[at] == '"') {
      quoted = true;
      ++at;
      while (at < end && text[at] != '"') {
        if (text[at] == '\\' && at + 1 < end) ++at;
        element += text[at++];
      }
      if (at >= end) return std::nullopt;
      ++at;
    } else {
      while (at < end && text[at] != ',') {
        if (text[at] == '{' || text[at] == '"') return std::nullopt;
        element += text[at++];
      }
    }
    if (!quoted && element == "NULL") {
      elements.emplace_back(std::nullopt);
    } else {
      elements.emplace_back(std::move(element));
    }
    if (at == end) break;
    if (text[at] != ',') return std::nullopt;
    ++at;
  }
  return elements;
}

// ---- schema pieces -------------------------------------------------------------------------

void named(JsonWriter& out, const char* type, const char* name) {
  out.key("type").string(type).key("name").string(name).key("version").number(1);
}

void decimal_schema(JsonWriter& out, const std::optional<NumericModifier>& modifier, bool money) {
  named(out, "bytes", "org.apache.kafka.connect.data.Decimal");
  out.key("parameters").begin_object();
  out.key("scale").string(money ? "2" : std::to_string(modifier->scale));
  if (!money) out.key("connect.decimal.precision").string(std::to_string(modifier->precision));
  out.end_object();
}

void variable_scale_schema(JsonWriter& out) {
  out.key("type").string("struct").key("fields").begin_array();
  out.begin_object().key("type").string("int32").key("optional").boolean(false).key("field").string("scale").end_object();
  out.begin_object().key("type").string("bytes").key("optional").boolean(false).key("field").string("value").end_object();
  out.end_array().key("name").string("io.debezium.data.VariableScaleDecimal").key("version").number(1);
  out.key("doc").string("Variable scaled decimal");
}

Status write_numeric(JsonWriter& out, const ColumnType& type, const ValueModes& modes, std::string_view text) {
  const bool money = type.oid == kMoney;
  const std::string plain = money ? money_digits(text) : std::string(text);
  if (modes.decimal == DecimalHandling::kString) {
    out.string(plain);
    return Status::ok();
  }
  if (modes.decimal == DecimalHandling::kDouble) {
    if (is_special_number(plain)) {
      out.string(plain);
    } else {
      if (!looks_like_json_number(plain)) return unreadable(type, text);
      out.raw(plain);
    }
    return Status::ok();
  }
  // Precise: Kafka Connect's Decimal has no NaN or infinity; Debezium writes null.
  if (is_special_number(plain)) {
    out.null();
    return Status::ok();
  }
  auto decimal = parse_decimal(plain);
  if (!decimal) return unreadable(type, text);
  const auto modifier = numeric_modifier(type.modifier);
  if (money || modifier) {
    auto bytes = unscaled_bytes(*decimal, money ? 2 : modifier->scale);
    if (!bytes) return unreadable(type, text);
    out.string(base64(*bytes));
    return Status::ok();
  }
  // A numeric without a modifier keeps its own scale, without trailing fractional zeros.
  while (!decimal->fraction.empty() && decimal->fraction.back() == '0') decimal->fraction.pop_back();
  const int scale = static_cast<int>(decimal->fraction.size());
  out.begin_object().key("scale").number(scale).key("value").string(base64(*unscaled_bytes(*decimal, scale)));
  out.end_object();
  return Status::ok();
}

Status write_time(JsonWriter& out, const ColumnType& type, const ValueModes& modes, std::string_view text) {
  std::size_t at = 0;
  auto clock = read_clock(text, at);
  if (!clock || at != text.size()) return unreadable(type, text);
  const bool millis = modes.time == TimePrecision::kConnect ||
                      (modes.time == TimePrecision::kAdaptive && fractional_digits(type) <= 3);
  if (millis) {
    out.number(clock->micros / 1000);
  } else {
    out.number(clock->micros);
  }
  return Status::ok();
}

Status write_timetz(JsonWriter& out, const ColumnType& type, std::string_view text) {
  std::size_t at = 0;
  auto clock = read_clock(text, at);
  if (!clock) return unreadable(type, text);
  auto offset = read_offset(text, at);
  if (!offset || at != text.size()) return unreadable(type, text);
  std::int64_t seconds = clock->micros / kMicrosPerSecond - *offset;
  seconds = ((seconds % 86400) + 86400) % 86400;
  std::string utc = two_digits(seconds / 3600) + ":" + two_digits(seconds / 60 % 60) + ":" + two_digits(seconds % 60);
  if (!clock->fraction.empty()) utc += "." + clock->fraction;
  out.string(utc + "Z");
  return Status::ok();
}

Status write_timestamp(JsonWriter& out, const ColumnType& type, const ValueModes& modes, std::string_view text) {
  // time.precision.mode adaptive_time_microseconds changes only time columns.
  const bool millis = modes.time == TimePrecision::kConnect || fractional_digits(type) <= 3;
  if (text == "infinity" || text == "-infinity") {
    const std::int64_t micros = text == "infinity" ? kMicroTimestampPositiveInfinity : kMicroTimestampNegativeInfinity;
    out.number(millis ? micros / 1000 : micros);
    return Status::ok();
  }
  auto instant = read_timestamp(text, false);
  if (!instant) return unreadable(type, text);
  out.number(millis ? floor_divide(instant->micros, 1000) : instant->micros);
  return Status::ok();
}

Status write_timestamptz(JsonWriter& out, const ColumnType& type, std::string_view text) {
  if (text == "infinity" || text == "-infinity") {
    out.string(text);
    return Status::ok();
  }
  auto instant = read_timestamp(text, true);
  if (!instant) return unreadable(type, text);
  out.string(zoned_timestamp(instant->micros, fractional_digits(type)));
  return Status::ok();
}

Status write_date(JsonWriter& out, const ColumnType& type, std::string_view text) {
  if (text == "infinity") {
    out.number(kDatePositiveInfinity);
    return Status::ok();
  }
  if (text == "-infinity") {
    out.number(kDateNegativeInfinity);
    return Status::ok();
  }
  std::size_t at = 0;
  auto days = read_date(text, at);
  if (!days) return unreadable(type, text);
  if (read_era(text, at)) {
    std::size_t year_at = 0;
    auto year = read_number(text, year_at);
    days = days_from_civil(1 - *year, static_cast<unsigned>(*parse_integer<int>(text.substr(year_at + 1, 2))),
                           static_cast<unsigned>(*parse_integer<int>(text.substr(year_at + 4, 2))));
  }
  if (at != text.size()) return unreadable(type, text);
  out.number(*days);
  return Status::ok();
}

bool is_single_bit(const ColumnType& type) { return type.oid == kBit && type.modifier == 1; }

}  // namespace

std::string base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t at = 0;
  for (; at + 2 < bytes.size(); at += 3) {
    const unsigned value = static_cast<unsigned char>(bytes[at]) << 16 |
                           static_cast<unsigned char>(bytes[at + 1]) << 8 | static_cast<unsigned char>(bytes[at + 2]);
    text += kAlphabet[value >> 18 & 63];
    text += kAlphabet[value >> 12 & 63];
    text += kAlphabet[value >> 6 & 63];
    text += kAlphabet[value & 63];
  }
  if (at < bytes.size()) {
    unsigned value = static_cast<unsigned char>(bytes[at]) << 16;
    if (at + 1 < bytes.size()) value |= static_cast<unsigned char>(bytes[at + 1]) << 8;
    text += kAlphabet[value >> 18 & 63];
    text += kAlphabet[value >> 12 & 63];
    text += at + 1 < bytes.size() ? kAlphabet[value >> 6 & 63] : '=';
    text += '=';
  }
  return text;
}

bool is_supported(const ColumnType& type, std::string* why) {
  if (type.is_array()) {
    const ColumnType& element = type.element.front();
    if (element.is_array() || !is_supported(element, why)) return false;
    return true;
  }
  if (!type.enum_labels.empty()) return true;
  switch (type.oid) {
    case kBool: case kBytea: case kInt8: case kInt2: case kInt4: case kOid: case kFloat4:
    case kFloat8: case kMoney: case kNumeric: case kDate: case kTime: case kTimetz:
    case kTimestamp: case kTimestamptz: case kInterval: case kBit: case kVarbit:
      return true;
    default:
      if (is_string_like(type.oid)) return true;
  }
  if (why) {
    *why = "type " + type.name + " has no Debezium mapping in cutover (Debezium's own connector leaves such "
           "columns out unless include.unknown.datatypes is set)";
  }
  return false;
}

void write_schema(JsonWriter& out, const ColumnType& type, const ValueModes& modes) {
  if (type.is_array()) {
    out.key("type").string("array").key("items").begin_object();
    write_schema(out, type.element.front(), modes);
    out.key("optional").boolean(true).end_object();
    return;
  }
  if (!type.enum_labels.empty()) {
    named(out, "string", "io.debezium.data.Enum");
    std::string allowed;
    for (const auto& label : type.enum_labels) allowed += (allowed.empty() ? "" : ",") + label;
    out.key("parameters").begin_object().key("allowed").string(allowed).end_object();
    return;
  }
  const bool adaptive = modes.time != TimePrecision::kConnect;
  switch (type.oid) {
    case kBool:
      out.key("type").string("boolean");
      return;
    case kInt2:
      out.key("type").string("int16");
      return;
    case kInt4:
      out.key("type").string("int32");
      return;
    case kInt8: case kOid:
      out.key("type").string("int64");
      return;
    case kFloat4:
      out.key("type").string("float");
      return;
    case kFloat8:
      out.key("type").string("double");
      return;
    case kMoney: case kNumeric:
      if (modes.decimal == DecimalHandling::kString) {
        out.key("type").string("string");
      } else if (modes.decimal == DecimalHandling::kDouble) {
        out.key("type").string("double");
      } else if (type.oid == kMoney) {
        decimal_schema(out, std::nullopt, true);
      } else if (auto modifier = numeric_modifier(type.modifier)) {
        decimal_schema(out, modifier, false);
      } else {
        variable_scale_schema(out);
      }
      return;
    case kDate:
      named(out, "int32", adaptive ? "io.debezium.time.Date" : "org.apache.kafka.connect.data.Date");
      return;
    case kTime:
      if (!adaptive) {
        named(out, "int32", "org.apache.kafka.connect.data.Time");
      } else if (modes.time == TimePrecision::kAdaptive && fractional_digits(type) <= 3) {
        named(out, "int32", "io.debezium.time.Time");
      } else {
        named(out, "int64", "io.debezium.time.MicroTime");
      }
      return;
    case kTimetz:
      named(out, "string", "io.debezium.time.ZonedTime");
      return;
    case kTimestamp:
      if (!adaptive) {
        named(out, "int64", "org.apache.kafka.connect.data.Timestamp");
      } else if (fractional_digits(type) <= 3) {
        named(out, "int64", "io.debezium.time.Timestamp");
      } else {
        named(out, "int64", "io.debezium.time.MicroTimestamp");
      }
      return;
    case kTimestamptz:
      named(out, "string", "io.debezium.time.ZonedTimestamp");
      return;
    case kInterval:
      named(out, "int64", "io.debezium.time.MicroDuration");
      return;
    case kBytea:
      out.key("type").string(modes.binary == BinaryHandling::kBytes ? "bytes" : "string");
      return;
    case kJson: case kJsonb:
      named(out, "string", "io.debezium.data.Json");
      return;
    case kXml:
      named(out, "string", "io.debezium.data.Xml");
      return;
    case kUuid:
      named(out, "string", "io.debezium.data.Uuid");
      return;
    case kBit: case kVarbit:
      if (is_single_bit(type)) {
        out.key("type").string("boolean");
        return;
      }
      named(out, "bytes", "io.debezium.data.Bits");
      out.key("parameters").begin_object()
          .key("length").string(std::to_string(type.modifier > 0 ? type.modifier : std::numeric_limits<std::int32_t>::max()))
          .end_object();
      return;
    default:
      out.key("type").string("string");
  }
}

Status write_value(JsonWriter& out, const ColumnType& type, const ValueModes& modes, std::string_view text) {
  if (type.is_array()) {
    auto elements = array_elements(text);
    if (!elements) return unreadable(type, text);
    out.begin_array();
    for (const auto& element : *elements) {
      if (!element) {
        out.null();
      } else if (auto written = write_value(out, type.element.front(), modes, *element); !written) {
        return written;
      }
    }
    out.end_array();
    return Status::ok();
  }
  if (!type.enum_labels.empty()) {
    out.string(text);
    return Status::ok();
  }
  switch (type.oid) {
    case kBool:
      out.boolean(text == "t");
      return Status::ok();
    case kInt2: case kInt4: case kInt8: case kOid: {
      auto number = parse_integer<std::int64_t>(text);
      if (!number) return unreadable(type, text);
      out.number(*number);
      return Status::ok();
    }
    case kFloat4: case kFloat8:
      if (!is_special_number(text) && !looks_like_json_number(text)) return unreadable(type, text);
      write_float(out, text);
      return Status::ok();
    case kMoney: case kNumeric:
      return write_numeric(out, type, modes, text);
    case kDate:
      return write_date(out, type, text);
    case kTime:
      return write_time(out, type, modes, text);
    case kTimetz:
      return write_timetz(out, type, text);
    case kTimestamp:
      return write_timestamp(out, type, modes, text);
    case kTimestamptz:
      return write_timestamptz(out, type, text);
    case kInterval: {
      auto micros = interval_micros(text);
      if (!micros) return unreadable(type, text);
      out.number(*micros);
      return Status::ok();
    }
    case kBytea: {
      auto bytes = bytea_bytes(text);
      if (!bytes) return unreadable(type, text);
      write_binary(out, modes, *bytes);
      return Status::ok();
    }
    case kBit: case kVarbit: {
      if (is_single_bit(type)) {
        out.boolean(text == "1");
        return Status::ok();
      }
      auto bytes = bits_bytes(text);
      if (!bytes) return unreadable(type, text);
      out.string(base64(*bytes));
      return Status::ok();
    }
    default:
      out.string(text);
      return Status::ok();
  }
}

void write_unavailable(JsonWriter& out, const ColumnType& type, const ValueModes& modes,
                       std::string_view placeholder) {
  if (type.is_array()) {
    const ColumnType& element = type.element.front();
    if (is_string_like(element.oid) || !element.enum_labels.empty()) {
      out.begin_array().string(placeholder).end_array();
    } else {
      out.null();
    }
    return;
  }
  if (type.oid == kBytea) {
    write_binary(out, modes, placeholder);
  } else if (is_string_like(type.oid) || !type.enum_labels.empty()) {
    out.string(placeholder);
  } else {
    out.null();
  }
}

namespace {

// A default expression's literal: "7", "'-3'::integer", "'abc'::character varying", "1.5",
// "true"; nullopt for anything else.
std::optional<std::string> default_literal(std::string_view expression) {
  std::string_view text = expression;
  while (text.size() >= 2 && text.front() == '(' && text.back() == ')') text = text.substr(1, text.size() - 2);
  if (!text.empty() && text.front() == '\'') {
    std::string literal;
    std::size_t at = 1;
    for (; at < text.size(); ++at) {
      if (text[at] == '\'') {
        if (at + 1 < text.size() && text[at + 1] == '\'') {
          literal += '\'';
          ++at;
          continue;
        }
        break;
      }
      literal += text[at];
    }
    if (at >= text.size()) return std::nullopt;
    const std::string_view rest = text.substr(at + 1);
    if (!rest.empty() && rest.substr(0, 2) != "::") return std::nullopt;
    // "'{}'::jsonb", "'x'::text", but not "'a'::text || 'b'::text".
    if (rest.find_first_of("|+-*/( ") != std::string_view::npos &&
        rest.find(" varying") == std::string_view::npos && rest.find(" precision") == std::string_view::npos &&
        rest.find(" without time zone") == std::string_view::npos &&
        rest.find(" with time zone") == std::string_view::npos) {
      return std::nullopt;
    }
    return literal;
  }
  const std::size_t cast = text.find("::");
  std::string_view bare = text.substr(0, cast);
  if (bare == "true" || bare == "false") return std::string(bare);
  if (looks_like_json_number(bare) && (bare[0] == '-' || (bare[0] >= '0' && bare[0] <= '9'))) return std::string(bare);
  return std::nullopt;
}

bool is_clock_function(std::string_view expression) {
  for (const char* function : {"now()", "CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "LOCALTIMESTAMP",
                               "LOCALTIME", "statement_timestamp()", "clock_timestamp()", "transaction_timestamp()"}) {
    if (expression.rfind(function, 0) == 0) return true;
  }
  return false;
}

}  // namespace

std::string default_value(const ColumnType& type, const ValueModes& modes, std::string_view expression) {
  if (expression.empty() || type.is_array() || type.oid == kBytea) return "";
  std::string json;
  JsonWriter out(json);
  switch (type.oid) {
    case kDate: case kTime: case kTimetz: case kTimestamp: case kTimestamptz:
      if (is_clock_function(expression)) {
        const char* epoch = type.oid == kDate        ? "1970-01-01"
                            : type.oid == kTime      ? "00:00:00"
                            : type.oid == kTimetz    ? "00:00:00+00"
                            : type.oid == kTimestamp ? "1970-01-01 00:00:00"
                                                     : "1970-01-01 00:00:00+00";
        return write_value(out, type, modes, epoch) ? json : "";
      }
      break;
    case kInt2: case kInt4: case kInt8:
      if (expression.rfind("nextval(", 0) == 0) return "0";
      break;
    default:
      break;
  }
  auto literal = default_literal(expression);
  if (!literal) return "";
  if (type.oid == kBool && (*literal == "true" || *literal == "false")) literal = literal->substr(0, 1);
  if (!write_value(out, type, modes, *literal)) return "";
  return json;
}

}  // namespace cutover::debezium
