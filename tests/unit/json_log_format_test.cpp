// JSON log lines, read back with a JSON parser: every field its own member, nothing of a line
// that does not fit the message-then-fields shape lost.
#include "cutover/common/json_log_format.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cutover {
namespace {

nlohmann::json line_of(std::string_view text) {
  return nlohmann::json::parse(json_log_line("2026-12-07T08:00:00.000Z", "info", text));
}

TEST(JsonLogLine, TheMessageAndEachFieldAreMembersAndNumbersAreNumbers) {
  const auto line = line_of("pipeline will restart reason=\"green: connection refused\" backoff_ms=500 lag=0.25 "
                            "lsn=0/16B3748 direction=forward");
  EXPECT_EQ(line["ts"], "2026-12-07T08:00:00.000Z");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "pipeline will restart");
  EXPECT_EQ(line["reason"], "green: connection refused");
  EXPECT_EQ(line["backoff_ms"], 500);
  EXPECT_EQ(line["lag"], 0.25);
  EXPECT_EQ(line["lsn"], "0/16B3748");
  EXPECT_EQ(line["direction"], "forward");
  const std::string raw = json_log_line("2026-12-07T08:00:00.000Z", "info", "started plan=t");
  EXPECT_EQ(raw.rfind("{\"ts\":\"2026-12-07T08:00:00.000Z\",\"level\":\"info\",\"msg\":\"started\"", 0), 0u) << raw;
}

TEST(JsonLogLine, ALineThatIsNotMessageThenFieldsKeepsAllOfItsText) {
  // A quote inside a quoted value the log did not escape: that value stays in the message.
  const auto broken = line_of("apply halted reason=\"relation \"items\" is gone\" next=\"rebuild\"");
  EXPECT_EQ(broken["msg"], "apply halted reason=\"relation \"items\" is gone\"");
  EXPECT_EQ(broken["next"], "rebuild");
  // Free text after a field.
  const std::string trailing = "snapshot copied table=public.items and more words";
  EXPECT_EQ(line_of(trailing)["msg"], trailing);
  EXPECT_EQ(line_of("no fields at all: a=b is inside")["msg"], "no fields at all: a=b is inside");
  EXPECT_EQ(line_of("")["msg"], "");
}

TEST(JsonLogLine, EscapesReservedNamesAndBytesThatAreNotUtf8) {
  const auto line = line_of("odd msg=x level=y value=\"a \\\"quoted\\\" word\"");
  EXPECT_EQ(line["msg"], "odd");
  EXPECT_EQ(line["field_msg"], "x");
  EXPECT_EQ(line["field_level"], "y");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["value"], "a \"quoted\" word");
  EXPECT_NO_THROW(line_of("bytes name=\xff\xfe"));
}

}  // namespace
}  // namespace cutover
