#include "cutover/plan/plan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <cctype>
#include <set>
#include <sstream>

#include "cutover/common/duration.h"
#include "cutover/plan/plan_settings.h"
#include "cutover/plan/sql_expression.h"
#include "cutover/plan/yaml_reader.h"

namespace cutover {

namespace {

using namespace std::chrono_literals;

// PostgreSQL keeps the first 63 bytes of a longer name (NAMEDATALEN - 1): a longer one in the
// plan would not match the name the catalogs and the change stream carry.
constexpr std::size_t kMaximumIdentifierBytes = 63;

// Character checks by hand: std::regex recurses per character and overflows the stack on long
// input, which a plan must never be able to do.
template <typename Allowed>
bool made_of(const std::string& text, Allowed allowed) {
  return std::all_of(text.begin(), text.end(), [&](char c) { return allowed(static_cast<unsigned char>(c)); });
}

bool is_plan_name_character(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_topic_character(unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; }

// An unquoted SQL identifier as cutover accepts it: a letter or _, then letters, digits, _ or $.
bool is_plain_identifier(const std::string& text) {
  if (text.empty() || !(std::isalpha(static_cast<unsigned char>(text[0])) || text[0] == '_')) return false;
  return made_of(text, [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '$'; });
}

class PlanParser {
 public:
  explicit PlanParser(const std::string& file) : reader_(file) { plan_.file = file; }

  Result<Plan> parse(const YAML::Node& root) {
    if (!reader_.expect_mapping(root, "", {"name", "blue", "green", "kafka", "replication",
                                           "snapshot", "apply", "tables", "sequences", "verify",
                                           "cutover", "control", "state_dir", "search_path"})) {
      return failure();
    }
    parse_name(root);
    if (auto blue = parse_endpoint(root, "blue", true)) plan_.blue = *blue;
    plan_.green = parse_endpoint(root, "green", false);
    parse_kafka(root);
    parse_replication(root);
    parse_settings_section(root, "snapshot");
    parse_settings_section(root, "apply");
    parse_tables(root);
    parse_sequences(root);
    parse_settings_section(root, "verify");
    parse_cutover(root);
    parse_control(root);
    plan_.state_dir = reader_.string_field(root, "state_dir", "", false)
                          .value_or("./.cutover/" + plan_.name);
    parse_search_path(root);
    if (!reader_.errors().empty()) return failure();
    return plan_;
  }

 private:
  Status failure() const {
    std::string message;
    for (const auto& line : reader_.errors()) message += (message.empty() ? "" : "\n") + line;
    return Status::error(message);
  }

  // Schemas the plan's expressions may name things in without qualifying them, after
  // pg_catalog. Plain names only: they go into every session's search_path.
  void parse_search_path(const YAML::Node& root) {
    plan_.search_path = reader_.string_list_field(root, "search_path", "").value_or(std::vector<std::string>{});
    for (std::size_t index = 0; index < plan_.search_path.size(); ++index) {
      const std::string& schema = plan_.search_path[index];
      const YAML::Node node = root["search_path"][index];
      if (schema.empty() || schema.size() > 63 || !made_of(schema, [](unsigned char c) {
            return std::isalnum(c) || c == '_' || c == '$';
          })) {
        reader_.error(node, "search_path", "'" + schema + "' is not a schema name cutover accepts: use "
                      "up to 63 of letters, digits, _ and $");
      } else if (schema == "pg_catalog" || schema == "pg_temp" || schema == "$user") {
        reader_.error(node, "search_path", schema + " cannot be listed: pg_catalog always comes first, "
                      "and pg_temp and $user are never searched for the plan's expressions");
      }
    }
  }

  void parse_name(const YAML::Node& root) {
    auto name = reader_.string_field(root, "name", "", true);
    if (!name) return;
    if (name->empty() || name->size() > 40 || !made_of(*name, is_plan_name_character)) {
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
    std::vector<std::string> keys = {"brokers", "topic_prefix", "properties", "properties_env", "debezium"};
    for (const auto& key : setting_keys("kafka")) keys.push_back(key);
    if (!reader_.expect_mapping(node, "kafka", keys)) return;
    read_settings(node, "kafka");
    if (auto brokers = reader_.string_field(node, "brokers", "kafka", false)) {
      if (brokers->empty()) reader_.error(node["brokers"], "kafka.brokers", "must not be empty");
      plan_.kafka.brokers = *brokers;
    }
    if (auto prefix = reader_.string_field(node, "topic_prefix", "kafka", false)) {
      if (prefix->empty() || prefix->size() > 200 || !made_of(*prefix, is_topic_character)) {
        reader_.error(node["topic_prefix"], "kafka.topic_prefix",
                      "'" + *prefix + "' is not a valid Kafka topic name prefix");
      }
      plan_.kafka.topic_prefix = *prefix;
    }
    if (auto properties = reader_.string_map_field(node, "properties", "kafka")) {
      for (auto& [key, value] : *properties) {
        if (auto why = owned_kafka_property(key)) {
          reader_.error(node["properties"][key], "kafka.properties." + shortened(key), *why);
          continue;
        }
        plan_.kafka.properties[key] = value;
      }
    }
    parse_debezium(node);
    // Secrets (sasl.password, ssl.key.password) from the environment, kept out of the file.
    if (auto from_environment = reader_.string_map_field(node, "properties_env", "kafka")) {
      for (auto& [key, variable] : *from_environment) {
        const std::string path = "kafka.properties_env." + shortened(key);
        if (auto why = owned_kafka_property(key)) {
          reader_.error(node["properties_env"][key], path, *why);
        } else if (plan_.kafka.properties.count(key) != 0) {
          reader_.error(node["properties_env"][key], path, "is given in kafka.properties too: give it once");
        } else if (const char* value = std::getenv(variable.c_str())) {
          plan_.kafka.properties[key] = value;
        } else {
          reader_.error(node["properties_env"][key], path, "environment variable " + variable + " is not set");
        }
      }
    }
  }

  // kafka.debezium: present (even as `{}`) turns the Debezium-form stream on.
  void parse_debezium(const YAML::Node& kafka) {
    const YAML::Node node = kafka["debezium"];
    auto& debezium = plan_.kafka.debezium;
    debezium.topic_prefix = plan_.kafka.topic_prefix;
    if (!node) return;
    std::vector<std::string> keys = {"topic_prefix"};
    for (const auto& key : setting_keys("kafka.debezium")) keys.push_back(key);
    if (!reader_.expect_mapping(node, "kafka.debezium", keys)) return;
    debezium.enabled = true;
    read_settings(node, "kafka.debezium");
    if (auto prefix = reader_.string_field(node, "topic_prefix", "kafka.debezium", false)) {
      if (prefix->empty() || prefix->size() > 200 || !made_of(*prefix, is_topic_character)) {
        reader_.error(node["topic_prefix"], "kafka.debezium.topic_prefix",
                      "'" + *prefix + "' is not a valid Kafka topic name prefix");
      }
      debezium.topic_prefix = *prefix;
    }
  }

  // Settings cutover's guarantees rest on: a plan may not change them.
  static std::optional<std::string> owned_kafka_property(const std::string& key) {
    if (key == "bootstrap.servers" || key == "metadata.broker.list") {
      return std::string("is set by cutover from kafka.brokers; name the brokers there");
    }
    if (key == "acks" || key == "request.required.acks" || key == "enable.idempotence" ||
        key == "enable.gapless.guarantee" || key == "message.timeout.ms" || key == "delivery.timeout.ms") {
      return std::string("is set by cutover (acks=all, idempotence and the gapless guarantee on, no delivery "
                         "timeout) so that the change log neither loses nor reorders a change; remove it");
    }
    if (key == "auto.offset.reset" || key == "enable.auto.commit" || key == "enable.auto.offset.store") {
      return std::string("is set by cutover, whose applier keeps its offset in green and must never skip "
                         "part of the log; remove it");
    }
    return std::nullopt;
  }

  // The section's settings declared in plan_settings.h, where the file gives them.
  void read_settings(const YAML::Node& node, const std::string& section) {
    for (const auto& setting : plan_settings()) {
      if (setting.section != section || !node[std::string(setting.key)]) continue;
      const std::string key(setting.key);
      switch (setting.kind) {
        case SettingKind::kInteger:
          if (auto value = reader_.integer_field(node, key, section, setting.minimum, setting.maximum)) {
            setting.set(plan_, *value);
          }
          break;
        case SettingKind::kBytes:
          if (auto value = reader_.bytes_field(node, key, section, setting.minimum, setting.maximum)) {
            setting.set(plan_, *value);
          }
          break;
        case SettingKind::kDuration:
          if (auto value = duration_field(node, key, section, std::chrono::milliseconds(setting.minimum),
                                          std::chrono::milliseconds(setting.maximum))) {
            setting.set(plan_, static_cast<long>(value->count()));
          }
          break;
        case SettingKind::kBoolean:
          if (auto value = reader_.boolean_field(node, key, section)) setting.set(plan_, *value ? 1 : 0);
          break;
        case SettingKind::kChoice:
          if (auto value = reader_.string_field(node, key, section, false)) {
            const auto chosen = std::find(setting.choices.begin(), setting.choices.end(), *value);
            if (chosen == setting.choices.end()) {
              std::string choices;
              for (const auto choice : setting.choices) choices += (choices.empty() ? "" : ", ") + std::string(choice);
              reader_.error(node[key], setting.path(), "'" + shortened(*value) + "' is not one of " + choices);
            } else {
              setting.set(plan_, static_cast<long>(chosen - setting.choices.begin()));
            }
          }
          break;
      }
    }
  }

  // A section made only of declared settings.
  void parse_settings_section(const YAML::Node& root, const std::string& section) {
    const YAML::Node node = root[section];
    if (!node || !reader_.expect_mapping(node, section, setting_keys(section))) return;
    read_settings(node, section);
  }

  // The topic settings need brokers that make topics: the embedded one has no CreateTopics and
  // one replica, so a plan asking for more would get less without a word.
  void check_topic_settings(const YAML::Node& root) {
    const YAML::Node node = root["kafka"];
    if (!node || !node.IsMap()) return;
    for (const char* key : {"replication_factor", "min_insync_replicas", "retention"}) {
      if (node[key] && plan_.kafka.is_embedded()) {
        reader_.error(node[key], std::string("kafka.") + key,
                      "applies to topics on your own brokers; the embedded broker keeps one replica in memory");
      }
    }
    if (plan_.kafka.replication_factor > 0 && plan_.kafka.min_insync_replicas > plan_.kafka.replication_factor) {
      reader_.error(node["min_insync_replicas"], "kafka.min_insync_replicas",
                    "is more than kafka.replication_factor: no write could ever be acknowledged");
    }
    if (plan_.replication.slot_advance != SlotAdvance::kOnKafkaAck) return;
    if (node["replication_factor"] && plan_.kafka.replication_factor == 1) {
      reader_.error(node["replication_factor"], "kafka.replication_factor",
                    "1 with slot_advance: on_kafka_ack would confirm blue's slot for changes one broker holds: "
                    "losing its disk loses them; use 3 (with min_insync_replicas: 2), or slot_advance: on_apply");
    }
    if (node["min_insync_replicas"] && plan_.kafka.min_insync_replicas == 1) {
      reader_.error(node["min_insync_replicas"], "kafka.min_insync_replicas",
                    "1 with slot_advance: on_kafka_ack lets one broker acknowledge alone: losing its disk loses "
                    "changes blue no longer keeps; use 2, or slot_advance: on_apply");
    }
  }

  void parse_replication(const YAML::Node& root) {
    parse_settings_section(root, "replication");
    check_topic_settings(root);
    if (plan_.replication.slot_advance == SlotAdvance::kOnKafkaAck && plan_.kafka.is_embedded()) {
      reader_.error(root["replication"]["slot_advance"], "replication.slot_advance",
                    "on_kafka_ack is refused with kafka.brokers: embedded, whose log lives in "
                    "memory; use on_apply");
    }
  }

  std::optional<QualifiedName> table_name(const YAML::Node& parent, const std::string& key,
                                          const std::string& path, bool required) {
    auto text = reader_.string_field(parent, key, path, required);
    if (!text) return std::nullopt;
    const std::size_t dot = text->find('.');
    const std::string schema = dot == std::string::npos ? "public" : text->substr(0, dot);
    const std::string name = dot == std::string::npos ? *text : text->substr(dot + 1);
    if (!is_plain_identifier(schema) || !is_plain_identifier(name)) {
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + shortened(*text) + "' is not a table name (schema.table or table)");
      return std::nullopt;
    }
    if (schema.size() > kMaximumIdentifierBytes || name.size() > kMaximumIdentifierBytes) {
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + shortened(*text) + "' has a name longer than PostgreSQL's 63 bytes, "
                    "which it would cut short; rename the table");
      return std::nullopt;
    }
    return parse_qualified_name(*text);
  }

  // The first part of a long text, for a message that must stay readable.
  static std::string shortened(const std::string& text) {
    constexpr std::size_t kShown = 80;
    return text.size() <= kShown ? text : text.substr(0, kShown) + "... (" + std::to_string(text.size()) + " bytes)";
  }

  void check_column_name(const YAML::Node& at, const std::string& field, const std::string& column) {
    if (column.empty() || column.size() > kMaximumIdentifierBytes) {
      reader_.error(at, field, "'" + shortened(column) + "' is not a column name of 1 to 63 bytes");
    }
  }

  void check_expression(const YAML::Node& at, const std::string& field, const std::string& text) {
    if (!at) return;
    if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
      reader_.error(at, field, "is empty; give one SQL expression");
      return;
    }
    if (auto problem = single_expression_problem(text)) {
      reader_.error(at, field, "must be one SQL expression: " + *problem);
    }
  }

  // A map of column name to SQL expression, each checked to be one expression.
  std::vector<std::pair<std::string, std::string>> expressions(const YAML::Node& parent, const std::string& key,
                                                               const std::string& path) {
    auto mapped = reader_.string_map_field(parent, key, path).value_or(
        std::vector<std::pair<std::string, std::string>>{});
    for (const auto& [column, expression] : mapped) {
      const std::string field = path + "." + key + "." + shortened(column);
      check_column_name(parent[key], field, column);
      check_expression(parent[key][column], field, expression);
    }
    return mapped;
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
      for (const auto& column : mapping.key) check_column_name(entry["key"], path + ".key", column);
      mapping.columns = expressions(entry, "columns", path);
      mapping.where = reader_.string_field(entry, "where", path, false).value_or("");
      check_expression(entry["where"], path + ".where", mapping.where);
      if (const YAML::Node reverse = entry["reverse"]) {
        const std::string reverse_path = path + ".reverse";
        if (reader_.expect_mapping(reverse, reverse_path, {"columns"})) {
          mapping.reverse_columns = expressions(reverse, "columns", reverse_path);
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

  // A duration between `minimum` and `maximum`: a value outside them is a mistake (0s of
  // allowed lag) or wraps around inside (9223372036854775807m), never a setting.
  std::optional<std::chrono::milliseconds> duration_field(const YAML::Node& parent, const std::string& key,
                                                          const std::string& path,
                                                          std::chrono::milliseconds minimum,
                                                          std::chrono::milliseconds maximum) {
    auto text = reader_.string_field(parent, key, path, false);
    if (!text) return std::nullopt;
    auto value = parse_duration(*text);
    if (!value) {
      const bool numeric = !text->empty() && std::isdigit(static_cast<unsigned char>(text->front()));
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + shortened(*text) + "' is not a duration (for example 250ms, 2s, 1m)" +
                        (numeric ? ", or is too long to be one" : ""));
      return std::nullopt;
    }
    if (*value < minimum || *value > maximum) {
      reader_.error(parent[key], reader_.join(path, key),
                    "'" + *text + "' is out of range: give " + format_duration(minimum) + " to " +
                        format_duration(maximum));
      return std::nullopt;
    }
    return value;
  }

  void parse_cutover(const YAML::Node& root) {
    const YAML::Node node = root["cutover"];
    auto keys = setting_keys("cutover");
    keys.push_back("switch");
    if (!node || !reader_.expect_mapping(node, "cutover", keys)) return;
    read_settings(node, "cutover");
    auto& settings = plan_.cutover;
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
    if (!is_listen_address(plan_.control.listen)) {
      reader_.error(node["listen"], "control.listen",
                    "'" + shortened(plan_.control.listen) + "' is not an IP address and port (for example "
                    "127.0.0.1:7800 or [::1]:7800)");
    }
    plan_.control.token_env = reader_.string_field(node, "token_env", "control", false).value_or("");
    if (!plan_.control.token_env.empty()) {
      const char* token = std::getenv(plan_.control.token_env.c_str());
      if (!token || !*token) {
        reader_.error(node["token_env"], "control.token_env",
                      "environment variable " + shortened(plan_.control.token_env) +
                          " is not set: every POST (verify, switch, rollback, abort) would be refused");
      }
    }
  }

  // host:port, the host an IPv4 address or a bracketed IPv6 one, as the control server binds.
  static bool is_listen_address(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= text.size() || text.size() - colon > 6) return false;
    const std::string port = text.substr(colon + 1);
    if (!made_of(port, [](unsigned char c) { return std::isdigit(c) != 0; }) || std::stol(port) > 65535) return false;
    std::string host = text.substr(0, colon);
    unsigned char address[sizeof(in6_addr)];
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      return ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), address) == 1;
    }
    return ::inet_pton(AF_INET, host.c_str(), address) == 1 || ::inet_pton(AF_INET6, host.c_str(), address) == 1;
  }

  YamlReader reader_;
  Plan plan_;
};

}  // namespace

std::string object_name_of_plan(const std::string& plan_name) {
  std::string identifier = "cutover_" + plan_name;
  std::replace(identifier.begin(), identifier.end(), '-', '_');
  return identifier;
}

std::string Plan::slot_name() const { return object_name_of_plan(name); }
std::string Plan::publication_name() const { return object_name_of_plan(name); }
std::string Plan::origin_name() const { return object_name_of_plan(name); }
std::string Plan::echo_origin_name() const {
  const std::string suffix = kReversePlanSuffix;
  if (direction == Direction::kReverse) return object_name_of_plan(name.substr(0, name.size() - suffix.size()));
  return object_name_of_plan(name + suffix);
}

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
