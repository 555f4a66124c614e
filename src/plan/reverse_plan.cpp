#include "cutover/plan/reverse_plan.h"

#include <algorithm>
#include <map>
#include <regex>

namespace cutover {

namespace {

// An identifier as PostgreSQL reads it: lower-cased unless quoted.
std::string identifier_name(const std::string& token) {
  if (token.size() >= 2 && token.front() == '"') {
    std::string name;
    for (std::size_t at = 1; at + 1 < token.size(); ++at) {
      name += token[at];
      if (token[at] == '"') ++at;  // "" inside quotes is one quote
    }
    return name;
  }
  std::string name = token;
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
  return name;
}

}  // namespace

const char* direction_name(Direction direction) {
  return direction == Direction::kForward ? "forward" : "reverse";
}

std::string plain_source_column(const std::string& expression) {
  static const std::string identifier = R"(([A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"))";
  static const std::regex bare("^\\s*" + identifier + R"(\s*(?:::\s*[A-Za-z_][A-Za-z0-9_ .,()\[\]"]*)?$)");
  static const std::regex cast("^\\s*cast\\s*\\(\\s*" + identifier + R"(\s+as\s+[^()]+(?:\([0-9 ,]*\))?\s*(?:\[\s*\])*\s*\)\s*$)",
                               std::regex::icase);
  std::smatch match;
  if (std::regex_match(expression, match, bare) || std::regex_match(expression, match, cast)) {
    return identifier_name(match[1].str());
  }
  return "";
}

Result<Plan> derive_reverse_plan(const Plan& plan) {
  if (!plan.green) return Status::error(plan.file + ": the reverse pipeline needs green");
  std::map<std::string, int> uses_of_source;
  std::map<std::string, int> uses_of_target;
  for (const auto& mapping : plan.tables) {
    uses_of_source[mapping.source.text()]++;
    uses_of_target[mapping.target.text()]++;
  }
  Plan reverse = plan;
  reverse.name = plan.name + "-reverse";
  reverse.blue = *plan.green;
  reverse.green = plan.blue;
  reverse.kafka.reverse = true;
  reverse.tables.clear();
  reverse.sequences.clear();
  std::string problems;
  auto problem = [&](const std::string& text) {
    problems += (problems.empty() ? "" : "\n") + plan.file + ": " + text;
  };
  for (std::size_t index = 0; index < plan.tables.size(); ++index) {
    const TableMapping& forward = plan.tables[index];
    const std::string where = "tables[" + std::to_string(index) + "]";
    if (uses_of_source[forward.source.text()] > 1) {
      problem(where + ": " + forward.source.text() + " is split into several targets; rollback "
              "cannot put its rows back together (switch with force_without_rollback)");
      continue;
    }
    if (uses_of_target[forward.target.text()] > 1) {
      problem(where + ": " + forward.target.text() + " merges several sources; rollback cannot "
              "tell them apart (switch with force_without_rollback)");
      continue;
    }
    TableMapping backward;
    backward.source = forward.target;
    backward.target = forward.source;
    if (!forward.reverse_columns.empty()) {
      backward.columns = forward.reverse_columns;
    } else {
      // An empty list keeps its meaning: same column names on both sides.
      bool derivable = true;
      for (const auto& [target_column, expression] : forward.columns) {
        const std::string source_column = plain_source_column(expression);
        if (source_column.empty()) {
          problem(where + ".columns." + target_column + ": '" + expression +
                  "' is computed, so it cannot be turned around; give " + where +
                  ".reverse.columns (blue column: SQL over green's columns)");
          derivable = false;
          continue;
        }
        const bool seen = std::any_of(backward.columns.begin(), backward.columns.end(),
                                      [&](const auto& column) { return column.first == source_column; });
        if (!seen) backward.columns.emplace_back(source_column, quote_identifier(target_column));
      }
      if (!derivable) continue;
    }
    reverse.tables.push_back(std::move(backward));
  }
  for (const auto& sequence : plan.sequences) {
    reverse.sequences.push_back({sequence.target, sequence.source});
  }
  if (!problems.empty()) return Status::error(problems);
  return reverse;
}

}  // namespace cutover
