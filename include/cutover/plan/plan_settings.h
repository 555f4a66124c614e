// The plan's tunable settings, each declared once: where it sits in the plan file, its kind
// and bounds, what it means, and where the parsed Plan keeps it (the default is that field's
// initial value in plan.h). The plan parser reads these fields from this table, and
// tests/unit/plan_settings_test.cpp checks docs/plan-reference.md against it, so a setting
// cannot be added in one place and forgotten in another.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cutover {

struct Plan;

enum class SettingKind {
  kInteger,   // a whole number in [minimum, maximum]
  kBytes,     // a whole number of bytes in [minimum, maximum], written "16 MiB" when whole MiB
  kDuration,  // "250ms", "2s", "1m": kept in milliseconds, in [minimum, maximum]
  kBoolean,
  kChoice,    // one of `choices`: kept as its index
};

struct PlanSetting {
  std::string_view section;  // the plan's top-level key: "snapshot"
  std::string_view key;      // "chunk_rows"
  SettingKind kind;
  long minimum = 0;
  long maximum = 0;
  std::vector<std::string_view> choices;
  std::string_view meaning;  // how docs/plan-reference.md's row begins
  long (*get)(const Plan&);
  void (*set)(Plan&, long);

  std::string path() const { return std::string(section) + "." + std::string(key); }
  // A value as the plan file and the docs write it: 100000, 16 MiB, 2s, false, on_apply.
  std::string format(long value) const;
  // The default: the value in a Plan no file has changed.
  std::string default_text() const;
};

const std::vector<PlanSetting>& plan_settings();

// The keys of `section`'s settings, in declaration order.
std::vector<std::string> setting_keys(std::string_view section);

}  // namespace cutover
