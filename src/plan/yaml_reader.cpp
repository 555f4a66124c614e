#include <regex>
#include "cutover/plan/yaml_reader.h"

#include <algorithm>
#include <map>

namespace cutover {

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}
}  // namespace

std::optional<std::string> closest_word(const std::string& word,
                                        const std::vector<std::string>& known) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : known) {
    const std::size_t distance = edit_distance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

void YamlReader::error(const YAML::Node& at, const std::string& path, const std::string& reason) {
  const YAML::Mark mark = at.Mark();
  std::string location = file_;
  if (mark.line >= 0) {
    location += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  }
  errors_.push_back(location + ": " + (path.empty() ? "" : path + ": ") + reason);
}

void YamlReader::error_at_top(const std::string& reason) {
  errors_.push_back(file_ + ": " + reason);
}

bool YamlReader::first_occurrence(std::map<std::string, int>& seen, const YAML::Node& key,
                                  const std::string& path) {
  const auto [first, inserted] = seen.emplace(key.as<std::string>(), key.Mark().line + 1);
  if (!inserted) error(key, path, "appears twice (first on line " + std::to_string(first->second) + ")");
  return inserted;
}

bool YamlReader::expect_mapping(const YAML::Node& node, const std::string& path,
                                const std::vector<std::string>& known) {
  if (!node.IsMap()) {
    error(node, path, "must be a mapping of keys to values");
    return false;
  }
  std::map<std::string, int> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (!first_occurrence(seen, entry.first, join(path, key))) continue;
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string reason = "unknown key";
    if (auto suggestion = closest_word(key, known)) reason += " (did you mean '" + *suggestion + "'?)";
    error(entry.first, join(path, key), reason);
  }
  return true;
}

std::optional<std::string> YamlReader::string_field(const YAML::Node& parent,
                                                    const std::string& key,
                                                    const std::string& path, bool required) {
  const YAML::Node node = parent[key];
  if (!node) {
    if (required) error(parent, join(path, key), "is required");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    error(node, join(path, key), "must be a string");
    return std::nullopt;
  }
  return node.as<std::string>();
}

std::optional<long> YamlReader::integer_field(const YAML::Node& parent, const std::string& key,
                                              const std::string& path, long minimum,
                                              long maximum) {
  const YAML::Node node = parent[key];
  if (!node) return std::nullopt;
  long value = 0;
  if (!node.IsScalar() || !YAML::convert<long>::decode(node, value)) {
    error(node, join(path, key), "must be a whole number");
    return std::nullopt;
  }
  if (value < minimum || value > maximum) {
    error(node, join(path, key),
          "must be between " + std::to_string(minimum) + " and " + std::to_string(maximum));
    return std::nullopt;
  }
  return value;
}

std::optional<long> YamlReader::bytes_field(const YAML::Node& parent, const std::string& key,
                                           const std::string& path, long minimum, long maximum) {
  const YAML::Node node = parent[key];
  if (!node) return std::nullopt;
  static const std::regex size(R"(\s*([0-9]{1,18})\s*(kB|MB|GB|TB)?\s*)");
  std::smatch match;
  const std::string text = node.IsScalar() ? node.Scalar() : "";
  if (!node.IsScalar() || !std::regex_match(text, match, size)) {
    error(node, join(path, key), "must be a size: whole bytes, or a whole number with kB, MB, GB or TB (e.g. 10GB)");
    return std::nullopt;
  }
  const std::string unit = match[2];
  const int shift = unit == "kB" ? 10 : unit == "MB" ? 20 : unit == "GB" ? 30 : unit == "TB" ? 40 : 0;
  const long number = std::stol(match[1]);
  if (number > (maximum >> shift) || (number << shift) < minimum) {
    error(node, join(path, key),
          "must be between " + std::to_string(minimum) + " and " + std::to_string(maximum) + " bytes");
    return std::nullopt;
  }
  return number << shift;
}

std::optional<bool> YamlReader::boolean_field(const YAML::Node& parent, const std::string& key,
                                              const std::string& path) {
  const YAML::Node node = parent[key];
  if (!node) return std::nullopt;
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    error(node, join(path, key), "must be true or false");
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> YamlReader::string_list_field(const YAML::Node& parent,
                                                                      const std::string& key,
                                                                      const std::string& path) {
  const YAML::Node node = parent[key];
  if (!node) return std::nullopt;
  if (!node.IsSequence()) {
    error(node, join(path, key), "must be a list of strings");
    return std::nullopt;
  }
  std::vector<std::string> values;
  for (std::size_t index = 0; index < node.size(); ++index) {
    if (!node[index].IsScalar()) {
      error(node[index], join(path, key) + "[" + std::to_string(index) + "]", "must be a string");
      return std::nullopt;
    }
    values.push_back(node[index].as<std::string>());
  }
  return values;
}

std::optional<std::vector<std::pair<std::string, std::string>>> YamlReader::string_map_field(
    const YAML::Node& parent, const std::string& key, const std::string& path) {
  const YAML::Node node = parent[key];
  if (!node) return std::nullopt;
  if (!node.IsMap()) {
    error(node, join(path, key), "must be a mapping");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> values;
  std::map<std::string, int> seen;
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    if (!first_occurrence(seen, entry.first, join(join(path, key), name))) continue;
    if (!entry.second.IsScalar()) {
      error(entry.second, join(join(path, key), name), "must be a string");
      continue;
    }
    values.emplace_back(name, entry.second.as<std::string>());
  }
  return values;
}

}  // namespace cutover
