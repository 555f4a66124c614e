#include "cutover/plan/reverse_plan.h"

#include <algorithm>
#include <map>
#include <cctype>

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

namespace {

// A small scanner over an expression, by hand rather than std::regex, whose recursion per
// character overflows the stack on long plan text.
class Scanner {
 public:
  explicit Scanner(const std::string& text) : text_(text) {}
  void skip_spaces() {
    while (at_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[at_]))) ++at_;
  }
  bool at_end() const { return at_ >= text_.size(); }
  std::size_t position() const { return at_; }
  // A word, compared without case; true and past it when it is there.
  bool word(const std::string& expected) {
    if (text_.size() - at_ < expected.size()) return false;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(text_[at_ + i])) != expected[i]) return false;
    }
    at_ += expected.size();
    return true;
  }
  bool literal(char expected) {
    if (at_ >= text_.size() || text_[at_] != expected) return false;
    ++at_;
    return true;
  }
  // An identifier token, plain or "quoted", as written; empty when none is here.
  std::string identifier() {
    const std::size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '"') {
      ++at_;
      while (at_ < text_.size()) {
        if (text_[at_] == '"' && at_ + 1 < text_.size() && text_[at_ + 1] == '"') {
          at_ += 2;
        } else if (text_[at_] == '"') {
          ++at_;
          return at_ - start > 2 ? text_.substr(start, at_ - start) : (at_ = start, "");
        } else {
          ++at_;
        }
      }
      at_ = start;
      return "";
    }
    if (at_ >= text_.size() || !(std::isalpha(static_cast<unsigned char>(text_[at_])) || text_[at_] == '_')) return "";
    while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) || text_[at_] == '_' || text_[at_] == '$')) ++at_;
    return text_.substr(start, at_ - start);
  }
  std::string rest() const { return text_.substr(at_); }

 private:
  const std::string& text_;
  std::size_t at_ = 0;
};

// `name(1, 2)[]`-like: a type as a cast writes it, with one optional modifier list.
bool is_type_text(const std::string& type) {
  const std::size_t open = type.find('(');
  const std::string head = type.substr(0, open);
  if (head.find_first_not_of(" ") == std::string::npos || head.find(')') != std::string::npos) return false;
  if (open == std::string::npos) {
    return std::all_of(type.begin(), type.end(), [](unsigned char c) { return c != '(' && c != ')'; });
  }
  const std::size_t close = type.find(')', open);
  if (close == std::string::npos) return false;
  const std::string modifiers = type.substr(open + 1, close - open - 1);
  const std::string after = type.substr(close + 1);
  return std::all_of(modifiers.begin(), modifiers.end(), [](unsigned char c) { return std::isdigit(c) || c == ' ' || c == ','; }) &&
         std::all_of(after.begin(), after.end(), [](unsigned char c) { return c == ' ' || c == '[' || c == ']'; });
}

}  // namespace

std::string plain_source_column(const std::string& expression) {
  // `column` or `column::type`.
  {
    Scanner scan(expression);
    scan.skip_spaces();
    const std::string column = scan.identifier();
    if (!column.empty()) {
      scan.skip_spaces();
      if (scan.at_end()) return identifier_name(column);
      if (scan.literal(':') && scan.literal(':')) {
        scan.skip_spaces();
        const std::string type = scan.rest();
        const bool type_like = !type.empty() && (std::isalpha(static_cast<unsigned char>(type[0])) || type[0] == '_') &&
                               std::all_of(type.begin(), type.end(), [](unsigned char c) {
                                 return std::isalnum(c) || std::string("_ .,()[]\"").find(static_cast<char>(c)) != std::string::npos;
                               });
        if (type_like) return identifier_name(column);
      }
    }
  }
  // `cast(column AS type)`.
  Scanner scan(expression);
  scan.skip_spaces();
  if (!scan.word("cast")) return "";
  scan.skip_spaces();
  if (!scan.literal('(')) return "";
  scan.skip_spaces();
  const std::string column = scan.identifier();
  if (column.empty()) return "";
  const std::size_t before_as = scan.position();
  scan.skip_spaces();
  if (scan.position() == before_as || !scan.word("as")) return "";
  const std::size_t after_as = scan.position();
  scan.skip_spaces();
  if (scan.position() == after_as) return "";
  std::string type = scan.rest();
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
  if (type.empty() || type.back() != ')') return "";
  type.pop_back();
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.pop_back();
  return is_type_text(type) ? identifier_name(column) : "";
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
  reverse.name = plan.name + kReversePlanSuffix;
  reverse.direction = Direction::kReverse;  // its source() is green and its target() blue
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
