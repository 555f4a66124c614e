#include "cutover/plan/plan.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "cutover/common/duration.h"
#include "cutover/plan/yaml_reader.h"

namespace cutover {

namespace {

const std::regex kPlanName("^[a-z0-9_-]+$");

class PlanParser {
 public:
  explicit PlanParser(const std::string& file) : reader_(file) { plan_.file = file; }

  Result<Plan> parse(const YAML::Node& root) {
    if (!reader_.expect_mapping(root, "", {"name", "blue", "green", "kafka", "replication",
                                           "snapshot", "apply", "tables", "sequences", "verify",
                                           "cutover", "control", "state_dir"})) {
      return failure();
    }
    parse_name(root);
    if (auto blue = parse_endpoint(root, "blue", true)) plan_.blue = *blue;
    plan_.green = parse_endpoint(root, "green", false);
    parse_kafka(root);
    parse_replication(root);
    parse_snapshot(root);
    parse_apply(root);
    parse_tables(root);
    parse_sequences(root);
    parse_verify(root);
    parse_cutover(root);
    parse_control(root);
    plan_.state_dir = reader_.string_field(root, "state_dir", "", false)
                          .value_or("./.cutover/" + plan_.name);
    if (!reader_.errors().empty()) return failure();
    return plan_;
  }

 private:
  Status failure() const {
    std::string message;
    for (const auto& line : reader_.errors()) message += (message.empty() ? "" : "\n") + line;
    return Status::error(message);
  }

  void parse_name(const YAML::Node& root) {
    auto name = reader_.string_field(root, "name", "", true);
    if (!name) return;
    if (!std::regex_match(*name, kPlanName) || name->size() > 40) {
      reader_.error(root["name"], "name",
                    "'" + *name + "' is not a valid plan name: use 1 to 40 of a-z, 0-9, _ and -");
      return;
    }
    plan_.name = *name;
  }

  std::optional<DatabaseEndpoint> parse_endpoint(const YAML::Node& root, const std::string& key,
                                                 bool required) {
    const YAML::Node node = root[key];
    if (!node) {
      if (required) reader_.error(root, key, "is required (a mapping with dsn or dsn_env)");
      return std::nullopt;
    }
    if (!reader_.expect_mapping(node, key, {"dsn", "dsn_env"})) return std::nullopt;
    auto dsn = reader_.string_field(node, "dsn", key, false);
    auto dsn_env = reader_.string_field(node, "dsn_env", key, false);
    if (dsn && dsn_env) {
      reader_.error(node, key, "give dsn or dsn_env, not both");
      return std::nullopt;
    }
    if (dsn) return DatabaseEndpoint{*dsn, key + ".dsn"};
    if (dsn_env) {
      const char* value = std::getenv(dsn_env->c_str());
      if (!value || !*value) {
        reader_.error(node["dsn_env"], key + ".dsn_env",
                      "environment variable " + *dsn_env + " is not set");
        return std::nullopt;
      }
      return DatabaseEndpoint{value, "$" + *dsn_env};
    }
    reader_.error(node, key, "needs dsn or dsn_env");
    return std::nullopt;
  }

  void parse_kafka(const YAML::Node& root) {
    const YAML::Node node = root["kafka"];
    plan_.kafka.brokers = "embedded";
    plan_.kafka.topic_prefix = "cutover." + plan_.name;
    if (!node) return;
    if (!reader_.expect_mapping(node, "kafka", {"brokers", "topic_prefix", "properties"})) return;
    if (auto brokers = reader_.string_field(node, "brokers", "kafka", false)) {
      if (brokers->empty()) reader_.error(node["brokers"], "kafka.brokers", "must not be empty");
      plan_.kafka.brokers = *brokers;
    }
    if (auto prefix = reader_.string_field(node, "topic_prefix", "kafka", false)) {
      static const std::regex kTopic("^[A-Za-z0-9._-]{1,200}$");
      if (!std::regex_match(*prefix, kTopic)) {
        reader_.error(node["topic_prefix"], "kafka.topic_prefix",
                      "'" + *prefix + "' is not a valid Kafka topic name prefix");
      }
      plan_.kafka.topic_prefix = *prefix;
    }
    if (auto properties = reader_.string_map_field(node, "properties", "kafka")) {
      for (auto& [key, value] : *properties) plan_.kafka.properties[key] = value;
    }
  }

  void parse_replication(const YAML::Node& root) {
    const YAML::Node node = root["replication"];
    if (!node || !reader_.expect_mapping(node, "replication", {"slot_advance"})) return;
    auto advance = reader_.string_field(node, "slot_advance", "replication", false);
    if (!advance) return;
    if (*advance == "on_apply") {
      plan_.replication.slot_advance = SlotAdvance::kOnApply;
    } else if (*advance == "on_kafka_ack") {
      if (plan_.kafka.is_embedded()) {
        reader_.error(node["slot_advance"], "replication.slot_advance",
                      "on_kafka_ack is refused with kafka.brokers: embedded, whose log lives in "
                      "memory; use on_apply");
      }
      plan_.replication.slot_advance = SlotAdvance::kOnKafkaAck;
    } else {
      reader_.error(node["slot_advance"], "replication.slot_advance",
                    "'" + *advance + "' is not one of on_apply, on_kafka_ack");
    }
  }

  void parse_snapshot(const YAML::Node& root) {
    const YAML::Node node = root["snapshot"];
    if (!node || !reader_.expect_mapping(node, "snapshot", {"parallelism", "chunk_rows"})) return;
    if (auto value = reader_.integer_field(node, "parallelism", "snapshot", 1, 64)) {
      plan_.snapshot.parallelism = static_cast<int>(*value);
    }
    if (auto value = reader_.integer_field(node, "chunk_rows", "snapshot", 1, 100000000)) {
      plan_.snapshot.chunk_rows = *value;
    }
  }

  void parse_apply(const YAML::Node& root) {
    const YAML::Node node = root["apply"];
    if (!node ||
        !reader_.expect_mapping(node, "apply", {"batch_rows", "batch_bytes", "batch_interval"})) {
      return;
    }
    if (auto value = reader_.integer_field(node, "batch_rows", "apply", 1, 10000000)) {
      plan_.apply.batch_rows = *value;
    }
    if (auto value = reader_.integer_field(node, "batch_bytes", "apply", 1024, 1L << 30)) {
      plan_.apply.batch_bytes = *value;
    }
    plan_.apply.batch_interval =
        duration_field(node, "batch_interval", "apply").value_or(plan_.apply.batch_interval);
  }

  std::optional<QualifiedName> table_name(const YAML::Node& parent, const std::string& key,
                                          const std::string& path, bool required) {
    auto text = reader_.string_field(parent, key, path, required);
    if (!text) return std::nullopt;
    static const std::regex kName(R"(^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$)");
    if (!std::regex_match(*text, kName)) {
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + *text + "' is not a table name (schema.table or table)");
      return std::nullopt;
    }
    return parse_qualified_name(*text);
  }

  void parse_tables(const YAML::Node& root) {
    const YAML::Node node = root["tables"];
    if (!node) {
      reader_.error(root, "tables", "is required: list the source tables to move");
      return;
    }
    if (!node.IsSequence() || node.size() == 0) {
      reader_.error(node, "tables", "must be a non-empty list");
      return;
    }
    std::map<std::string, std::size_t> pairs;
    for (std::size_t index = 0; index < node.size(); ++index) {
      const std::string path = "tables[" + std::to_string(index) + "]";
      const YAML::Node entry = node[index];
      if (!reader_.expect_mapping(entry, path,
                                  {"source", "target", "key", "columns", "where", "reverse",
                                   "on_truncate"})) {
        continue;
      }
      TableMapping mapping;
      auto source = table_name(entry, "source", path, true);
      if (!source) continue;
      mapping.source = *source;
      mapping.target = table_name(entry, "target", path, false).value_or(*source);
      // A pair moved twice would be copied twice by the snapshot.
      const std::string pair = mapping.source.text() + " to " + mapping.target.text();
      if (auto [first, inserted] = pairs.emplace(pair, index); !inserted) {
        reader_.error(entry, path, pair + " repeats tables[" + std::to_string(first->second) +
                                       "]; move each source and target pair once");
        continue;
      }
      mapping.key = reader_.string_list_field(entry, "key", path).value_or(
          std::vector<std::string>{});
      mapping.columns = reader_.string_map_field(entry, "columns", path).value_or(
          std::vector<std::pair<std::string, std::string>>{});
      mapping.where = reader_.string_field(entry, "where", path, false).value_or("");
      if (const YAML::Node reverse = entry["reverse"]) {
        const std::string reverse_path = path + ".reverse";
        if (reader_.expect_mapping(reverse, reverse_path, {"columns"})) {
          mapping.reverse_columns = reader_.string_map_field(reverse, "columns", reverse_path)
                                        .value_or(std::vector<std::pair<std::string, std::string>>{});
        }
      }
      if (auto action = reader_.string_field(entry, "on_truncate", path, false)) {
        if (*action == "truncate_target") {
          mapping.on_truncate = TruncateAction::kTruncateTarget;
        } else if (*action == "refuse") {
          mapping.on_truncate = TruncateAction::kRefuse;
        } else {
          reader_.error(entry["on_truncate"], path + ".on_truncate",
                        "'" + *action + "' is not one of truncate_target, refuse");
        }
      }
      plan_.tables.push_back(std::move(mapping));
    }
  }

  void parse_sequences(const YAML::Node& root) {
    const YAML::Node node = root["sequences"];
    if (!node) return;
    if (!node.IsSequence()) {
      reader_.error(node, "sequences", "must be a list");
      return;
    }
    for (std::size_t index = 0; index < node.size(); ++index) {
      const std::string path = "sequences[" + std::to_string(index) + "]";
      if (!reader_.expect_mapping(node[index], path, {"source", "target"})) continue;
      auto source = table_name(node[index], "source", path, true);
      if (!source) continue;
      plan_.sequences.push_back(
          {*source, table_name(node[index], "target", path, false).value_or(*source)});
    }
  }

  void parse_verify(const YAML::Node& root) {
    const YAML::Node node = root["verify"];
    if (!node || !reader_.expect_mapping(node, "verify", {"chunk_rows", "parallelism", "before_switch"})) {
      return;
    }
    if (auto value = reader_.integer_field(node, "chunk_rows", "verify", 1, 100000000)) {
      plan_.verify.chunk_rows = *value;
    }
    if (auto value = reader_.integer_field(node, "parallelism", "verify", 1, 64)) {
      plan_.verify.parallelism = static_cast<int>(*value);
    }
    if (auto value = reader_.string_field(node, "before_switch", "verify", false)) {
      if (*value != "full" && *value != "none") {
        reader_.error(node["before_switch"], "verify.before_switch",
                      "'" + *value + "' is not one of full, none");
      }
      plan_.verify.before_switch_full = *value == "full";
    }
  }

  std::optional<std::chrono::milliseconds> duration_field(const YAML::Node& parent,
                                                          const std::string& key,
                                                          const std::string& path) {
    auto text = reader_.string_field(parent, key, path, false);
    if (!text) return std::nullopt;
    auto value = parse_duration(*text);
    if (!value) {
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + *text + "' is not a duration (for example 250ms, 2s, 1m)");
    }
    return value;
  }

  void parse_cutover(const YAML::Node& root) {
    const YAML::Node node = root["cutover"];
    if (!node || !reader_.expect_mapping(node, "cutover", {"max_lag", "freeze_timeout",
                                                           "drain_timeout", "fence_blue",
                                                           "switch"})) {
      return;
    }
    auto& settings = plan_.cutover;
    settings.max_lag = duration_field(node, "max_lag", "cutover").value_or(settings.max_lag);
    settings.freeze_timeout =
        duration_field(node, "freeze_timeout", "cutover").value_or(settings.freeze_timeout);
    settings.drain_timeout =
        duration_field(node, "drain_timeout", "cutover").value_or(settings.drain_timeout);
    settings.fence_blue = reader_.boolean_field(node, "fence_blue", "cutover").value_or(false);
    const YAML::Node switch_node = node["switch"];
    if (!switch_node ||
        !reader_.expect_mapping(switch_node, "cutover.switch", {"pgbouncer", "command"})) {
      return;
    }
    settings.switch_command =
        reader_.string_list_field(switch_node, "command", "cutover.switch").value_or(
            std::vector<std::string>{});
    // With a switch command, PgBouncer (if named) only pauses and resumes clients: the
    // command moves them, so the include file and the two servers are not needed.
    const bool pooler_switches = settings.switch_command.empty();
    if (const YAML::Node bouncer = switch_node["pgbouncer"]) {
      const std::string path = "cutover.switch.pgbouncer";
      if (reader_.expect_mapping(bouncer, path, {"admin_dsn", "database", "include_file", "blue",
                                                 "green"})) {
        PgbouncerSwitch target;
        target.admin_dsn = reader_.string_field(bouncer, "admin_dsn", path, true).value_or("");
        target.database = reader_.string_field(bouncer, "database", path, true).value_or("");
        target.include_file =
            reader_.string_field(bouncer, "include_file", path, pooler_switches).value_or("");
        target.blue = reader_.string_field(bouncer, "blue", path, pooler_switches).value_or("");
        target.green = reader_.string_field(bouncer, "green", path, pooler_switches).value_or("");
        settings.pgbouncer = target;
      }
    }
    if (!settings.pgbouncer && settings.switch_command.empty()) {
      reader_.error(switch_node, "cutover.switch", "give pgbouncer, command, or both");
    }
    if (!settings.pgbouncer && !settings.switch_command.empty() && !settings.fence_blue) {
      reader_.error(switch_node, "cutover.switch",
                    "a switch command without pgbouncer needs cutover.fence_blue: true, or "
                    "nothing holds writers while clients move");
    }
    if (!settings.switch_command.empty() &&
        std::none_of(settings.switch_command.begin(), settings.switch_command.end(),
                     [](const std::string& word) { return word.find("{to}") != std::string::npos; })) {
      reader_.error(switch_node["command"], "cutover.switch.command",
                    "no argument holds {to}; the command must be told blue or green");
    }
  }

  void parse_control(const YAML::Node& root) {
    const YAML::Node node = root["control"];
    if (!node || !reader_.expect_mapping(node, "control", {"listen", "token_env"})) return;
    plan_.control.listen =
        reader_.string_field(node, "listen", "control", false).value_or(plan_.control.listen);
    plan_.control.token_env = reader_.string_field(node, "token_env", "control", false).value_or("");
  }

  YamlReader reader_;
  Plan plan_;
};

std::string identifier_from_name(const std::string& name) {
  std::string identifier = "cutover_" + name;
  std::replace(identifier.begin(), identifier.end(), '-', '_');
  return identifier;
}

}  // namespace

std::string Plan::slot_name() const { return identifier_from_name(name); }
std::string Plan::publication_name() const { return identifier_from_name(name); }
std::string Plan::origin_name() const { return identifier_from_name(name); }

std::vector<QualifiedName> Plan::source_tables() const {
  std::vector<QualifiedName> sources;
  for (const auto& table : tables) {
    if (std::find(sources.begin(), sources.end(), table.source) == sources.end()) {
      sources.push_back(table.source);
    }
  }
  return sources;
}

Result<Plan> parse_plan(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& error) {
    return Status::error(file + ":" + std::to_string(error.mark.line + 1) + ":" +
                         std::to_string(error.mark.column + 1) + ": not valid YAML: " + error.msg);
  }
  if (!root || root.IsNull()) return Status::error(file + ": the plan is empty");
  try {
    return PlanParser(file).parse(root);
  } catch (const YAML::Exception& error) {
    return Status::error(file + ":" + std::to_string(error.mark.line + 1) + ": " + error.msg);
  }
}

Result<Plan> load_plan(const std::string& path) {
  std::ifstream input(path);
  if (!input) return Status::error(path + ": cannot read the plan file: " + std::strerror(errno));
  std::stringstream content;
  content << input.rdbuf();
  return parse_plan(content.str(), path);
}

}  // namespace cutover
