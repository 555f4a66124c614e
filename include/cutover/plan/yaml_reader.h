// YamlReader: typed access to a yaml-cpp tree that collects errors instead of throwing.
//
// Used by the plan loader. Every error carries "file:line:column: path: reason", where the
// path is the field as a user would write it ("tables[1].columns.tier"). Unknown keys are
// errors with a did-you-mean suggestion when a known key is close.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cutover {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& path, const std::string& reason);
  void error_at_top(const std::string& reason);
  const std::vector<std::string>& errors() const { return errors_; }

  // True if `node` is a mapping; reports unknown keys (not in `known`).
  bool expect_mapping(const YAML::Node& node, const std::string& path,
                      const std::vector<std::string>& known);
  std::optional<std::string> string_field(const YAML::Node& parent, const std::string& key,
                                          const std::string& path, bool required);
  std::optional<long> integer_field(const YAML::Node& parent, const std::string& key,
                                    const std::string& path, long minimum, long maximum);
  // A size: whole bytes, or a whole number with PostgreSQL's units kB, MB, GB or TB (1024-based).
  std::optional<long> bytes_field(const YAML::Node& parent, const std::string& key,
                                  const std::string& path, long minimum, long maximum);
  std::optional<bool> boolean_field(const YAML::Node& parent, const std::string& key,
                                    const std::string& path);
  std::optional<std::vector<std::string>> string_list_field(const YAML::Node& parent,
                                                            const std::string& key,
                                                            const std::string& path);
  // A mapping of string to string, in file order.
  std::optional<std::vector<std::pair<std::string, std::string>>> string_map_field(
      const YAML::Node& parent, const std::string& key, const std::string& path);

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  // False, with an error, when a mapping repeats a key: yaml-cpp keeps both and lookups find
  // the first, so a second `name:` would be silently ignored. `seen` maps keys to lines.
  bool first_occurrence(std::map<std::string, int>& seen, const YAML::Node& key,
                        const std::string& path);

  std::string file_;
  std::vector<std::string> errors_;
};

// The known word closest to `word` by edit distance, if it is close enough to be a typo.
std::optional<std::string> closest_word(const std::string& word,
                                        const std::vector<std::string>& known);

}  // namespace cutover
