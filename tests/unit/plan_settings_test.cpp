// docs/plan-reference.md against the settings the parser reads (plan_settings.h): every
// declared setting has its row, with the default a Plan really has, the meaning it is declared
// with, and the bounds the parser enforces; every documented setting is declared. The doc is
// read as a user reads it: the section headings and the table rows.
#include "cutover/plan/plan_settings.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <string>

#include "cutover/plan/plan.h"

namespace cutover {
namespace {

struct DocumentedSetting {
  std::string default_text;
  std::string meaning;
};

std::string without_backticks(std::string text) {
  std::erase(text, '`');
  return text;
}

// "section.key" -> its row, for the sections made of settings.
std::map<std::string, DocumentedSetting> documented_settings() {
  std::ifstream reference(CUTOVER_SOURCE_DIR "/docs/plan-reference.md");
  std::map<std::string, DocumentedSetting> rows;
  std::string section;
  const std::regex heading("^## `([a-z_]+)`");
  const std::regex row("^\\| `([a-z_.]+)` \\| ([^|]+) \\| (.+) \\|$");
  std::smatch match;
  for (std::string line; std::getline(reference, line);) {
    if (line.rfind("## ", 0) == 0) section = std::regex_search(line, match, heading) ? match[1].str() : "";
    if (section.empty() || !std::regex_match(line, match, row)) continue;
    const std::string field = match[1].str();
    // "## `snapshot` and `apply`" writes each row's section out.
    const std::string path = field.find('.') == std::string::npos ? section + "." + field : field;
    rows[path] = {without_backticks(match[2].str()), match[3].str()};
  }
  return rows;
}

TEST(PlanSettings, EveryDeclaredSettingIsDocumentedWithItsDefaultMeaningAndBounds) {
  const auto documented = documented_settings();
  ASSERT_FALSE(documented.empty()) << "no settings rows found in docs/plan-reference.md";
  for (const auto& setting : plan_settings()) {
    const auto found = documented.find(setting.path());
    ASSERT_NE(found, documented.end()) << setting.path() << " is not in docs/plan-reference.md";
    EXPECT_EQ(found->second.default_text, setting.default_text()) << setting.path();
    EXPECT_EQ(found->second.meaning.rfind(std::string(setting.meaning), 0), 0u)
        << setting.path() << ": the doc says \"" << found->second.meaning << "\"";
    std::smatch bounds;
    if (std::regex_search(found->second.meaning, bounds, std::regex("\\(([^ ()]+) to ([^ ()]+)\\)"))) {
      EXPECT_EQ(bounds[1].str(), setting.format(setting.minimum)) << setting.path();
      EXPECT_EQ(bounds[2].str(), setting.format(setting.maximum)) << setting.path();
    }
  }
}

TEST(PlanSettings, EveryDocumentedSettingIsDeclared) {
  for (const auto& [path, row] : documented_settings()) {
    const std::string section = path.substr(0, path.find('.'));
    const bool settings_section = section == "replication" || section == "snapshot" || section == "apply" ||
                                  section == "verify" || section == "cutover";
    // cutover.switch is a structure of its own, read by the parser's switch section.
    if (!settings_section || path.rfind("cutover.switch.", 0) == 0) continue;
    bool declared = false;
    for (const auto& setting : plan_settings()) declared = declared || setting.path() == path;
    EXPECT_TRUE(declared) << path << " is documented but not declared in plan_settings.cpp";
  }
}

// The parser takes its keys and bounds from the declarations.
TEST(PlanSettings, ThePlanParserReadsAndBoundsEveryDeclaredSetting) {
  for (const auto& setting : plan_settings()) {
    if (setting.kind == SettingKind::kChoice || setting.kind == SettingKind::kBoolean) continue;
    // The plan file writes bytes as a number.
    auto written = [&](long value) {
      return setting.kind == SettingKind::kDuration ? setting.format(value) : std::to_string(value);
    };
    // The topic settings apply to a team's own brokers only.
    const std::string brokers = setting.section == "kafka" ? "  brokers: \"k1:9092\"\n" : "";
    // A nested section ("kafka.debezium") as nested mappings.
    const std::string section(setting.section);
    const auto dot = section.find('.');
    const std::string opening = dot == std::string::npos
                                    ? section + ":\n" + brokers + "  "
                                    : section.substr(0, dot) + ":\n  " + section.substr(dot + 1) + ":\n    ";
    auto plan_with = [&](long value) {
      return parse_plan("name: t\nblue:\n  dsn: \"host=x\"\ntables:\n  - source: a\n" + opening +
                            std::string(setting.key) + ": " + written(value) + "\n",
                        "p.yaml");
    };
    const auto within = plan_with(setting.maximum);
    ASSERT_TRUE(within) << setting.path() << ": " << within.status().message();
    EXPECT_EQ(setting.get(*within), setting.maximum) << setting.path();
    const auto beyond = plan_with(setting.maximum * 2);
    ASSERT_FALSE(beyond) << setting.path();
    EXPECT_NE(beyond.status().message().find(setting.path()), std::string::npos) << beyond.status().message();
  }
}

// Sizes take PostgreSQL's units (1024-based), as max_slot_wal_keep_size does.
TEST(PlanSettings, SizesTakeWholeBytesOrPostgresUnits) {
  auto retained = [](const std::string& text) {
    return parse_plan("name: t\nblue:\n  dsn: \"host=x\"\ntables:\n  - source: a\nreplication:\n  retained_wal_warning: " +
                          text + "\n",
                      "p.yaml");
  };
  EXPECT_EQ(retained("2097152")->replication.retained_wal_warning, 2L << 20);
  EXPECT_EQ(retained("512MB")->replication.retained_wal_warning, 512L << 20);
  EXPECT_EQ(retained("10 GB")->replication.retained_wal_warning, 10L << 30);
  EXPECT_EQ(retained("2TB")->replication.retained_wal_warning, 2L << 40);
  EXPECT_EQ(retained("4096kB")->replication.retained_wal_warning, 4L << 20);
  for (const char* bad : {"10gb", "1.5GB", "-1", "GB", "10 XB"}) {
    const auto refused = retained(bad);
    ASSERT_FALSE(refused) << bad;
    EXPECT_NE(refused.status().message().find("p.yaml:7:"), std::string::npos) << refused.status().message();
    EXPECT_NE(refused.status().message().find("replication.retained_wal_warning: must be a size"), std::string::npos)
        << refused.status().message();
  }
  EXPECT_FALSE(retained("512kB")) << "below the 1MB minimum";
}

}  // namespace
}  // namespace cutover
