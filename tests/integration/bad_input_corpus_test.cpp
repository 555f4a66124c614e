// The bad-input corpus: plans and settings cutover must refuse. Each case asserts its exit
// code and its message (naming the file, line and field, or the table), and that nothing was
// created or changed on blue, green, the broker or the pooler, and no state directory made.
//
// Every case shares one world (two clusters, a broker, a pooler), built once: ctest runs this
// binary as a single test, so the corpus costs one setup rather than one per case.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <librdkafka/rdkafka.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "cutover/orchestrator/pgbouncer_admin.h"
#include "cutover/transport/embedded_broker.h"
#include "fixtures/child_process.h"
#include "fixtures/pgbouncer.h"
#include "fixtures/postgres_cluster.h"
#include "fixtures/temporary_directory.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRightPassword = "Right-Secret-5512";
constexpr const char* kWrongPassword = "Wrong-Secret-9034";
constexpr const char* kKafkaPassword = "Kafka-Secret-7120";

struct World {
  PostgresCluster blue;
  PostgresCluster green;
  std::unique_ptr<EmbeddedBroker> broker;
  std::unique_ptr<Pgbouncer> pooler;
  TemporaryDirectory work{"cutover-corpus"};

  std::string state_dir() const { return work.path() + "/state"; }
  std::string closed_address() const { return "127.0.0.1:" + std::to_string(closed_port); }
  int closed_port = free_loopback_port();
};

World* world = nullptr;

// What the corpus's plans refer to. Blue holds the application's tables, green the new schema.
void create_schemas(World& w) {
  w.blue.execute(
      "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL, name text, flag boolean);"
      "INSERT INTO users SELECT g, 'u' || g || '@example.org', 'n' || g, g % 2 = 0 "
      "FROM generate_series(1, 50) g;"
      "CREATE TABLE heap (v text);"
      "CREATE TABLE keyed (id int PRIMARY KEY, code text);"
      "CREATE TABLE addressed (id int PRIMARY KEY, at tid);"
      "CREATE TABLE required (id int PRIMARY KEY, must text NOT NULL, extra text NOT NULL);"
      "CREATE SEQUENCE users_id_seq; SELECT setval('users_id_seq', 50);"
      "CREATE ROLE plain LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO plain;"
      "CREATE ROLE locked LOGIN SUPERUSER REPLICATION PASSWORD '" + std::string(kRightPassword) + "'");
  w.blue.add_hba_rule_first("host all locked 127.0.0.1/32 scram-sha-256");
  w.green.execute(
      "CREATE TABLE users (id int PRIMARY KEY, email text, name text, flag boolean);"
      "CREATE TABLE accounts (id bigint PRIMARY KEY, email text, joined date, score int);"
      "CREATE TABLE by_code (code text, id int);"
      "CREATE TABLE filled (id int PRIMARY KEY, code text); INSERT INTO filled VALUES (1, 'x');"
      "CREATE TABLE addressed (id int PRIMARY KEY, at tid);"
      "CREATE TABLE required_v2 (id bigint PRIMARY KEY, must text);"
      "CREATE TABLE nullable_key (id int UNIQUE, email text, name text, flag boolean);"
      "CREATE TABLE deferred (id int, email text, name text, flag boolean, "
      "  CONSTRAINT deferred_key PRIMARY KEY (id) DEFERRABLE);"
      "CREATE TABLE always_id (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text, name text, flag boolean);"
      "CREATE TABLE computed (id int PRIMARY KEY, email text, name text, flag boolean, "
      "  email_upper text GENERATED ALWAYS AS (upper(email)) STORED);"
      "CREATE TABLE totals (n bigint); INSERT INTO totals VALUES (0);"
      "CREATE TABLE counted (id int PRIMARY KEY, email text, name text, flag boolean);"
      "CREATE FUNCTION count_row() RETURNS trigger LANGUAGE plpgsql AS "
      "  $$ BEGIN UPDATE totals SET n = n + 1; RETURN NEW; END $$;"
      "CREATE TRIGGER count_rows AFTER INSERT ON counted FOR EACH ROW EXECUTE FUNCTION count_row();"
      "ALTER TABLE counted ENABLE ALWAYS TRIGGER count_rows;"
      "CREATE ROLE applier LOGIN");
}

// The parts of a corpus plan a case may set; what is left empty is the world's.
constexpr const char* kUsers = "  - source: users\n";

struct WorldPlan {
  std::string tables = kUsers;
  std::string extra = "";      // top-level YAML, before `tables:`
  std::string blue_dsn = "";   // the world's blue
  std::string green_dsn = "";  // the world's green
  std::string kafka = "";      // the `kafka:` section; the world's broker
};

// A plan on the world's clusters, broker and pooler.
std::string plan_on_world(const WorldPlan& parts) {
  const World& w = *world;
  const std::string kafka = parts.kafka.empty()
                                ? "kafka:\n  brokers: \"" + w.broker->bootstrap() + "\"\n"
                                : parts.kafka;
  return "name: corpus\nblue:\n  dsn: \"" +
         (parts.blue_dsn.empty() ? w.blue.dsn() : parts.blue_dsn) + "\"\ngreen:\n  dsn: \"" +
         (parts.green_dsn.empty() ? w.green.dsn() : parts.green_dsn) + "\"\n" + kafka +
         "state_dir: " + w.state_dir() + "\n" +
         "cutover:\n  switch:\n    pgbouncer:\n      admin_dsn: \"" + w.pooler->admin_dsn() +
         "\"\n      database: app\n      include_file: " + w.pooler->include_file() +
         "\n      blue: \"" + Pgbouncer::server_line(w.blue) + "\"\n      green: \"" +
         Pgbouncer::server_line(w.green) + "\"\n" + parts.extra + "tables:\n" + parts.tables;
}

// ---- What "nothing created or changed" compares ----

std::string cluster_fingerprint(const PostgresCluster& cluster) {
  pqxx::connection connection(cluster.dsn());
  pqxx::nontransaction query(connection);
  std::ostringstream out;
  for (const auto& row : query.exec(
           "SELECT 'slot ' || slot_name FROM pg_replication_slots "
           "UNION ALL SELECT 'publication ' || pubname FROM pg_publication "
           "UNION ALL SELECT 'origin ' || roname FROM pg_replication_origin "
           // A session's first temporary object makes a pg_temp_N schema that PostgreSQL keeps
           // for the next session of that number: it holds nothing once the session ends.
           "UNION ALL SELECT 'schema ' || nspname FROM pg_namespace "
           "  WHERE nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%' "
           "UNION ALL SELECT format('role %s %s %s', rolname, rolsuper, rolreplication) FROM pg_roles "
           "UNION ALL SELECT 'setting ' || setdatabase || ' ' || array_to_string(setconfig, ',') "
           "  FROM pg_db_role_setting "
           "UNION ALL SELECT 'sequence ' || sequencename || ' ' || coalesce(last_value::text, '-') "
           "  FROM pg_sequences "
           "UNION ALL SELECT format('relation %s.%s %s', n.nspname, c.relname, c.relkind) "
           "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
           "  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
           "ORDER BY 1")) {
    out << row[0].c_str() << "\n";
  }
  for (const auto& table : query.exec(
           "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")) {
    const std::string name = table[0].c_str();
    out << "rows " << name << " "
        << query.exec1("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY "
                       "t::text)), '') FROM " + name + " t")[0].c_str()
        << "\n";
  }
  return out.str();
}

std::string broker_fingerprint(const std::string& bootstrap) {
  auto client = create_kafka_client(RD_KAFKA_PRODUCER, bootstrap, {{"log_level", "3"}}, {});
  if (!client) return "no client: " + client.status().message();
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(client->get(), 1, nullptr, &metadata, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return "metadata unavailable";
  }
  std::vector<std::string> topics;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    topics.push_back("topic " + std::string(metadata->topics[i].topic) + " " +
                     std::to_string(metadata->topics[i].partition_cnt) + "\n");
  }
  rd_kafka_metadata_destroy(metadata);
  std::sort(topics.begin(), topics.end());
  std::string out;
  for (const auto& topic : topics) out += topic;
  return out;
}

// The include file, and the server and pause state the console shows for `app`.
std::string pooler_fingerprint(const Pgbouncer& pooler) {
  std::ifstream include(pooler.include_file());
  std::ostringstream out;
  out << include.rdbuf() << "\n";
  const PgbouncerAdmin admin(pooler.admin_dsn(), "app");
  const auto server = admin.server();
  const auto paused = admin.paused();
  out << (server ? *server : server.status().message()) << " paused="
      << (paused ? (*paused ? "yes" : "no") : paused.status().message()) << "\n";
  return out.str();
}

std::string world_fingerprint() {
  return "blue:\n" + cluster_fingerprint(world->blue) + "green:\n" +
         cluster_fingerprint(world->green) + "broker:\n" + broker_fingerprint(world->broker->bootstrap()) +
         "pooler:\n" + pooler_fingerprint(*world->pooler);
}

// ---- The cases ----

struct BadInputCase {
  std::string name;
  std::string command;  // validate, connect (validate --connect), run, capture
  std::function<std::string()> plan;
  int exit_code;
  std::vector<std::string> messages;  // each must appear in the output
  // What `cutover run` of a `connect` case exits with: it checks everything validation
  // checks before it creates anything. 2 for a plan that does not fit; 1 where the
  // databases cannot be reached at all.
  int run_exit_code = 2;
};

constexpr const char* kOnKafkaAck = "replication:\n  slot_advance: on_kafka_ack\n";

// Every `validate --connect` case again as `cutover run`, which must refuse it the same way,
// before it creates anything.
std::vector<BadInputCase> with_run_variants(std::vector<BadInputCase> cases) {
  const std::size_t count = cases.size();
  for (std::size_t index = 0; index < count; ++index) {
    if (cases[index].command != "connect") continue;
    BadInputCase run = cases[index];
    run.name += "OnRun";
    run.command = "run";
    run.exit_code = run.run_exit_code;
    cases.push_back(std::move(run));
  }
  return cases;
}

std::vector<BadInputCase> corpus() {
  const auto raw = [](std::string text) { return [text] { return text; }; };
  const auto on_world = [](std::string tables, std::string extra = "") {
    return [tables, extra] { return plan_on_world({.tables = tables, .extra = extra}); };
  };
  return {
      // The file itself.
      {"MalformedYaml", "validate", raw("name: t\nblue: {dsn: x}\ntables: [\n"), 2,
       {"plan.yaml:4:1: not valid YAML: end of sequence flow not found"}},
      {"NotAMapping", "validate", raw("- name: t\n"), 2,
       {"plan.yaml:1:1: must be a mapping of keys to values"}},
      {"EmptyFile", "validate", raw(""), 2, {"plan.yaml: the plan is empty"}},
      {"MissingFile", "validate", nullptr, 2,
       {"plan.yaml: cannot read the plan file: No such file or directory"}},
      // Types, keys and values.
      {"TablesNotAList", "validate", raw("name: t\nblue:\n  dsn: x\ntables: users\n"), 2,
       {"plan.yaml:4:9: tables: must be a non-empty list"}},
      {"IntegerGivenAWord", "validate", on_world(kUsers, "apply:\n  batch_rows: many\n"), 2,
       {"plan.yaml:18:15: apply.batch_rows: must be a whole number"}},
      {"StringGivenAList", "validate", on_world(kUsers, "control:\n  listen: [1, 2]\n"), 2,
       {"plan.yaml:18:11: control.listen: must be a string"}},
      {"UnknownTopLevelKey", "validate", on_world(kUsers, "tabels:\n  - source: users\n"), 2,
       {"plan.yaml:17:1: tabels: unknown key (did you mean 'tables'?)"}},
      {"UnknownTableKey", "validate", on_world("  - source: users\n    colums:\n      id: id\n"), 2,
       {"plan.yaml:19:5: tables[0].colums: unknown key (did you mean 'columns'?)"}},
      {"MissingBlue", "validate", raw("name: t\ntables:\n  - source: users\n"), 2,
       {"plan.yaml:1:1: blue: is required"}},
      {"KeyGivenTwice", "validate", on_world(kUsers, "name: other\n"), 2,
       {"plan.yaml:17:1: name: appears twice (first on line 1)"}},
      {"ColumnGivenTwice", "validate",
       on_world("  - source: users\n    columns:\n      id: id\n      id: id + 1\n"), 2,
       {"plan.yaml:21:7: tables[0].columns.id: appears twice (first on line 20)"}},
      {"TablePairRepeated", "validate", on_world("  - source: users\n  - source: users\n"), 2,
       {"tables[1]: public.users to public.users repeats tables[0]"}},
      {"PlanNameNotAnIdentifier", "validate", raw("name: \"Bad Name!\"\nblue:\n  dsn: x\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:1:7: name: 'Bad Name!' is not a valid plan name: use 1 to 40 of a-z, 0-9, _ and -"}},
      {"PlanNameTooLong", "validate",
       raw("name: " + std::string(41, 'a') + "\nblue:\n  dsn: x\ntables:\n  - source: t\n"), 2,
       {"is not a valid plan name"}},
      {"DurationNotADuration", "validate",
       raw("name: t\nblue:\n  dsn: x\ncutover:\n  max_lag: fast\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:5:12: cutover.max_lag: 'fast' is not a duration (for example 250ms, 2s, 1m)"}},
      {"DurationOverflows", "validate",
       raw("name: t\nblue:\n  dsn: x\ncutover:\n  freeze_timeout: 9223372036854775807m\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:5:19: cutover.freeze_timeout: '9223372036854775807m' is not a duration (for example "
        "250ms, 2s, 1m), or is too long to be one"}},
      {"DurationOutOfRange", "validate",
       raw("name: t\nblue:\n  dsn: x\ncutover:\n  max_lag: 0s\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:5:12: cutover.max_lag: '0s' is out of range: give 1ms to 1h"}},
      {"StateDirectoryIsAFile", "validate",
       raw("name: t\nblue:\n  dsn: x\nstate_dir: /etc/hostname\ntables:\n  - source: t\n"), 2,
       {"plan.yaml: state_dir: /etc/hostname is not a directory"}},
      {"StateDirectoryIsTheRoot", "validate", raw("name: t\nblue:\n  dsn: x\nstate_dir: /\ntables:\n  - source: t\n"), 2,
       {"plan.yaml: state_dir: the root directory is no place for cutover's state"}},
      {"ControlListenNotAnAddress", "validate", on_world(kUsers, "control:\n  listen: nowhere:99999\n"), 2,
       {"control.listen: 'nowhere:99999' is not an IP address and port"}},
      {"ControlTokenVariableUnset", "validate", on_world(kUsers, "control:\n  token_env: CUTOVER_CORPUS_NO_TOKEN\n"), 2,
       {"control.token_env: environment variable CUTOVER_CORPUS_NO_TOKEN is not set: every POST"}},
      {"KafkaPropertyWeakensAcknowledgement", "validate",
       raw("name: t\nblue:\n  dsn: x\nkafka:\n  brokers: k:9092\n  properties:\n    acks: \"1\"\n"
           "    bootstrap.servers: other:9092\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:7:11: kafka.properties.acks: is set by cutover (acks=all, idempotence and the gapless guarantee on",
        "kafka.properties.bootstrap.servers: is set by cutover from kafka.brokers"}},
      {"NotATableName", "validate", on_world("  - source: a.b.c\n"), 2,
       {"tables[0].source: 'a.b.c' is not a table name (schema.table or table)"}},
      {"SwitchCommandWithoutTo", "validate",
       raw("name: t\nblue:\n  dsn: x\ncutover:\n  fence_blue: true\n  switch:\n    command: [/bin/true, green]\n"
           "tables:\n  - source: t\n"), 2,
       {"plan.yaml:7:14: cutover.switch.command: no argument holds {to}"}},
      {"DsnEnvironmentVariableUnset", "validate",
       raw("name: t\nblue:\n  dsn_env: CUTOVER_CORPUS_UNSET\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:3:12: blue.dsn_env: environment variable CUTOVER_CORPUS_UNSET is not set"}},
      {"TopicPrefixInvalid", "validate",
       raw("name: t\nblue:\n  dsn: x\nkafka:\n  topic_prefix: \"bad prefix\"\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:5:17: kafka.topic_prefix: 'bad prefix' is not a valid Kafka topic name prefix"}},
      {"ChoiceNotAmongTheChoices", "validate",
       raw("name: t\nblue:\n  dsn: x\nreplication:\n  slot_advance: sometimes\ntables:\n  - source: t\n"), 2,
       {"replication.slot_advance: 'sometimes' is not one of on_apply, on_kafka_ack"}},
      {"NumberOutOfRange", "validate",
       raw("name: t\nblue:\n  dsn: x\nsnapshot:\n  parallelism: 0\ntables:\n  - source: t\n"), 2,
       {"plan.yaml:5:16: snapshot.parallelism: must be between 1 and 64"}},
      {"PoolerSwitchIncomplete", "validate",
       raw("name: t\nblue:\n  dsn: x\ncutover:\n  switch:\n    pgbouncer:\n      admin_dsn: x\n"
           "      database: app\ntables:\n  - source: t\n"), 2,
       {"cutover.switch.pgbouncer.include_file: is required", "cutover.switch.pgbouncer.green: is required"}},
      // Plan text that would be more than one expression: refused as the plan is read.
      {"ExpressionEndsTheStatement", "validate",
       on_world("  - source: users\n    columns:\n      id: id\n"
                "      email: \"1) AS x FROM users; COMMIT; DROP TABLE keyed; SELECT (1\"\n"), 2,
       {"plan.yaml:21:14: tables[0].columns.email: must be one SQL expression: a ')' closes more "
        "than the expression opened"}},
      {"FilterEndsTheStatement", "validate",
       on_world("  - source: users\n    where: \"true; DROP TABLE keyed\"\n"), 2,
       {"plan.yaml:19:12: tables[0].where: must be one SQL expression: a ';' would end the statement"}},
      {"FilterCommentsOutTheRest", "validate", on_world("  - source: users\n    where: \"true --\"\n"), 2,
       {"tables[0].where: must be one SQL expression: a '--' comment would hide the rest"}},
      {"ReverseExpressionUnclosedLiteral", "validate",
       on_world("  - source: users\n    reverse:\n      columns:\n        email: \"'x\"\n"), 2,
       {"tables[0].reverse.columns.email: must be one SQL expression: a '...' string literal is not closed"}},
      {"TableNameLongerThanPostgresKeeps", "validate", on_world("  - source: " + std::string(64, 't') + "\n"), 2,
       {"has a name longer than PostgreSQL's 63 bytes, which it would cut short"}},
      {"HugeTableName", "validate", on_world("  - source: " + std::string(30000, 't') + "\n"), 2,
       {"(30000 bytes)' has a name longer than PostgreSQL's 63 bytes"}},
      {"HugePlanName", "validate", raw("name: " + std::string(30000, 'a') + "\nblue:\n  dsn: x\ntables:\n  - source: t\n"), 2,
       {"is not a valid plan name"}},
      // The plan against the databases.
      {"MissingSourceTable", "connect", on_world("  - source: nowhere\n"), 2,
       {"tables[0].source: table public.nowhere does not exist on blue"}},
      {"MissingTargetTable", "connect", on_world("  - source: users\n    target: missing_target\n"), 2,
       {"tables[0].target: table public.missing_target does not exist on green"}},
      {"TransformDoesNotTypeCheck", "connect",
       on_world("  - source: users\n    target: accounts\n    columns:\n      id: id\n      joined: flag\n"), 2,
       {"tables[0].columns.joined: gives boolean, which does not convert to green's date"}},
      {"TransformCallsAnUnknownFunction", "connect",
       on_world("  - source: users\n    target: accounts\n    columns:\n      id: id\n"
                "      email: no_such_function(email)\n"), 2,
       {"tables[0].columns.email: the transform of public.users does not run on blue", "no_such_function"}},
      {"MappedSequencesMissing", "connect",
       on_world(kUsers, "sequences:\n  - source: public.no_such_seq\n    target: public.no_green_seq\n"), 2,
       {"plan.yaml: sequences[0].source: blue has no sequence public.no_such_seq",
        "plan.yaml: sequences[0].target: green has no sequence public.no_green_seq"}},
      {"TransformCallsAVolatileFunction", "connect",
       on_world("  - source: users\n    columns:\n      id: id\n      email: \"email || random()\"\n"), 2,
       {"tables[0].columns.email: calls random(), which is volatile"}},
      {"TransformTakesASequenceValue", "connect",
       on_world("  - source: users\n    columns:\n      id: \"nextval('public.users_id_seq')\"\n"), 2,
       {"tables[0].columns.id: calls nextval(regclass), which is volatile"}},
      {"TransformReadsAnotherTable", "connect",
       on_world("  - source: users\n    columns:\n      id: id\n      email: \"(SELECT max(code) FROM public.keyed)\"\n"), 2,
       {"tables[0].columns.email: uses a subquery"}},
      {"TransformNumbersRows", "connect",
       on_world("  - source: users\n    columns:\n      id: \"row_number() OVER ()\"\n"), 2,
       {"tables[0].columns.id: uses a window function"}},
      {"TransformReturnsASet", "connect",
       on_world("  - source: users\n    columns:\n      id: \"generate_series(1, id)\"\n"), 2,
       {"tables[0].columns.id: uses a set-returning function"}},
      {"FilterCallsAVolatileFunction", "connect", on_world("  - source: users\n    where: \"random() < 0.5\"\n"), 2,
       {"tables[0].where: calls random(), which is volatile"}},
      {"TargetKeyMayBeNull", "connect",
       on_world("  - source: users\n    target: nullable_key\n    key: [id]\n"), 2,
       {"tables[0].key: green's public.nullable_key key column(s) id may be NULL"}},
      {"BrokersDoNotAnswer", "connect",
       [] { return plan_on_world({.kafka = "kafka:\n  brokers: \"" + world->closed_address() + "\"\n"}); }, 2,
       {"plan.yaml: kafka.brokers: cannot reach Kafka brokers at 127.0.0.1:"}},
      {"TargetKeyDeferrable", "connect", on_world("  - source: users\n    target: deferred\n"), 2,
       {"tables[0].key: green's public.deferred key ('id') is DEFERRABLE"}},
      {"TargetKeyGeneratedAlways", "connect", on_world("  - source: users\n    target: always_id\n"), 2,
       {"tables[0].columns.id: green's public.always_id.id is GENERATED ALWAYS AS IDENTITY",
        "SET GENERATED BY DEFAULT"}},
      {"MappedGeneratedColumn", "connect",
       on_world("  - source: users\n    target: computed\n    columns:\n      id: id\n      email_upper: upper(email)\n"), 2,
       {"tables[0].columns.email_upper: green's public.computed.email_upper is a generated column"}},
      {"TargetTriggerFiresAlways", "connect", on_world("  - source: users\n    target: counted\n"), 2,
       {"tables[0].target: green's trigger count_rows on public.counted is ENABLE ALWAYS",
        "ENABLE TRIGGER \"count_rows\""}},
      {"ReverseExpressionDoesNotRun", "connect",
       on_world("  - source: users\n    reverse:\n      columns:\n        id: id\n        email: no_such_function(email)\n"
                "        name: name\n        flag: flag\n"), 2,
       {"rollback: ", "tables[0].reverse.columns.email: the transform of public.users does not run on green",
        "no_such_function"}},
      {"ReverseExpressionDoesNotConvert", "connect",
       on_world("  - source: users\n    reverse:\n      columns:\n        id: id\n        email: email\n"
                "        name: name\n        flag: email\n"), 2,
       {"rollback: ", "tables[0].reverse.columns.flag: gives text, which does not convert to blue's boolean on "
        "assignment"}},
      {"RowFilterDoesNotParse", "connect", on_world("  - source: users\n    where: \"id >\"\n"), 2,
       {"tables[0]", "syntax error"}},
      {"KeyTheReplicaIdentityCannotSupply", "connect",
       on_world("  - source: keyed\n    target: by_code\n    key: [code]\n    columns:\n"
                "      code: code\n      id: id\n"), 2,
       {"tables[0].key: target key code is computed from code, which blue does not send"}},
      {"TableWithoutKeyOrIdentity", "connect", on_world("  - source: heap\n"), 2,
       {"public.heap has no primary key and no replica identity"}},
      {"GreenTableNotEmpty", "connect", on_world("  - source: keyed\n    target: filled\n"), 2,
       {"green: public.filled already has rows; the snapshot copies into empty tables only"}},
      {"UnsupportedColumnType", "connect", on_world("  - source: addressed\n"), 2,
       {"tables[0].source: blue's column public.addressed.at has type tid, which cutover does not support"}},
      {"ReverseLeavesANotNullColumnUnwritten", "connect",
       on_world("  - source: required\n    target: required_v2\n    columns:\n      id: id\n      must: must\n"), 2,
       {"rollback: the reverse mapping leaves blue's NOT NULL columns without a default unwritten: "
        "public.required.extra"}},
      {"WrongPassword", "connect",
       [] {
         return plan_on_world({.blue_dsn = "host=127.0.0.1 port=" + std::to_string(world->blue.port()) +
                                           " dbname=postgres user=locked password=" + kWrongPassword});
       },
       2, {"cannot connect to blue", "password authentication failed for user \"locked\"", "password=***"}, 1},
      {"HugePassword", "connect",
       [] {
         return plan_on_world({.blue_dsn = "host=127.0.0.1 port=" + std::to_string(world->blue.port()) +
                                           " dbname=postgres user=locked password=" + std::string(60000, 'p')});
       },
       2, {"cannot connect to blue", "password=***"}, 1},
      {"UnreachableBlue", "connect",
       [] { return plan_on_world({.blue_dsn = "host=127.0.0.1 port=" + std::to_string(world->closed_port) +
                                                 " connect_timeout=2"}); },
       2, {"cannot connect to blue"}, 1},
      {"UnreachableGreen", "connect",
       [] { return plan_on_world({.green_dsn = "host=127.0.0.1 port=" + std::to_string(world->closed_port) +
                                                  " connect_timeout=2"}); },
       2, {"cannot connect to green"}, 1},
      {"RoleWithoutReplication", "connect",
       [] { return plan_on_world({.blue_dsn = world->blue.dsn("plain")}); }, 2,
       {"blue: role plain lacks the REPLICATION attribute"}},
      {"GreenRoleWithoutApplyPrivileges", "connect",
       [] { return plan_on_world({.green_dsn = world->green.dsn("applier")}); }, 2,
       {"green: role applier may not SET session_replication_role",
        "GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO \"applier\""}},
      // Refused when the pipeline starts, before anything is created.
      {"UnreachableBroker", "capture",
       [] {
         return plan_on_world({.extra = kOnKafkaAck,
                               .kafka = "kafka:\n  brokers: \"" + world->closed_address() + "\"\n"});
       },
       1, {"cannot reach Kafka brokers at 127.0.0.1:"}},
      // kafka.properties reach librdkafka as they are: its TLS settings are applied, and a CA
      // file that does not exist stops capture before anything is created.
      {"KafkaSecurityPropertiesReachLibrdkafka", "capture",
       [] {
         return plan_on_world(
             {.extra = kOnKafkaAck,
              .kafka = "kafka:\n  brokers: \"" + world->broker->bootstrap() + "\"\n  properties:\n"
                       "    security.protocol: sasl_ssl\n    sasl.mechanism: PLAIN\n"
                       "    sasl.username: mover\n    sasl.password: " + std::string(kKafkaPassword) +
                       "\n    ssl.ca.location: /nonexistent/kafka-ca.pem\n"});
       },
       1, {"ssl.ca.location", "/nonexistent/kafka-ca.pem"}},
      {"EmbeddedBrokerWithKafkaAcknowledgement", "run",
       [] { return plan_on_world({.extra = kOnKafkaAck, .kafka = "kafka:\n  brokers: embedded\n"}); },
       2, {"plan.yaml:18:17: replication.slot_advance: on_kafka_ack is refused with kafka.brokers: embedded"}},
      // Valid, but one row fails the copy: the first start is undone, slot, publication,
      // green's record and the rows copied so far.
      {"SnapshotFailsPartWay", "run",
       on_world("  - source: users\n    columns:\n      id: id\n      email: email\n"
                "      name: \"(100 / (id - 13))::text\"\n      flag: flag\n"), 1,
       {"division by zero"}},
      {"CaptureOfAnUnsupportedType", "capture",
       on_world("  - source: addressed\n", kOnKafkaAck), 1,
       {"public.addressed.at has type tid"}},
  };
}

class BadInputCorpus : public ::testing::TestWithParam<BadInputCase> {
 protected:
  static void SetUpTestSuite() {
    world = new World();
    auto broker = EmbeddedBroker::start(3);  // three replicas, as on_kafka_ack asks of a topic
    ASSERT_TRUE(broker) << broker.status().message();
    world->broker = std::move(broker.value());
    world->pooler = std::make_unique<Pgbouncer>(world->blue);
    create_schemas(*world);
    baseline_ = new std::string(world_fingerprint());
  }
  static void TearDownTestSuite() {
    delete world;
    delete baseline_;
    world = nullptr;
    baseline_ = nullptr;
  }
  static std::string* baseline_;
};

std::string* BadInputCorpus::baseline_ = nullptr;

TEST_P(BadInputCorpus, IsRefusedWithItsMessageAndChangesNothing) {
  ASSERT_NE(world, nullptr);
  const BadInputCase& input = GetParam();
  const std::string plan = world->work.path() + "/plan.yaml";
  std::filesystem::remove(plan);
  if (input.plan) std::ofstream(plan) << input.plan();
  std::vector<std::string> argv = {CUTOVER_BINARY, input.command, plan};
  if (input.command == "connect") argv = {CUTOVER_BINARY, "validate", "--connect", plan};
  ChildProcess child(argv, world->work.path());
  // A run that fails once it has begun stays up in phase failed, saying so, until it is
  // stopped; one refused before it begins exits by itself.
  if (input.command == "run" && child.wait_for_output("pipeline failed reason=", 90s) && child.running()) {
    child.signal(SIGTERM);
  }
  const int code = child.wait(90s).value_or(-1);
  const std::string output = child.standard_output() + child.standard_error();
  EXPECT_EQ(code, input.exit_code) << output;
  for (const auto& message : input.messages) {
    EXPECT_NE(output.find(message), std::string::npos) << "missing: " << message << "\n" << output;
  }
  EXPECT_EQ(output.find(kWrongPassword), std::string::npos) << output;
  EXPECT_EQ(output.find(kRightPassword), std::string::npos) << output;
  EXPECT_EQ(output.find(kKafkaPassword), std::string::npos) << output;
  EXPECT_EQ(output.find(std::string(100, 'p')), std::string::npos) << "a password was shown";
  EXPECT_FALSE(std::filesystem::exists(world->state_dir())) << "a state directory was made";
  EXPECT_EQ(world_fingerprint(), *baseline_) << "something was created or changed";
}

// A misspelt CUTOVER_LOG_LEVEL turned logging off without a word; any case of a real name is
// taken.
TEST(LogLevel, AnUnknownCutoverLogLevelIsRefusedBeforeAnythingRuns) {
  TemporaryDirectory work{"cutover-log-level"};
  const std::string plan = work.path() + "/absent.yaml";
  ::setenv("CUTOVER_LOG_LEVEL", "verbose", 1);
  ChildProcess refused({CUTOVER_BINARY, "validate", plan}, work.path());
  EXPECT_EQ(refused.wait(30s).value_or(-1), 2);
  EXPECT_NE(refused.standard_error().find(
                "cutover: CUTOVER_LOG_LEVEL is \"verbose\": use one of trace, debug, info, warning, error"),
            std::string::npos)
      << refused.standard_error();
  EXPECT_EQ(refused.standard_error().find("absent.yaml"), std::string::npos) << "the plan was read";
  ::setenv("CUTOVER_LOG_LEVEL", "INFO", 1);
  ChildProcess accepted({CUTOVER_BINARY, "validate", plan}, work.path());
  EXPECT_EQ(accepted.wait(30s).value_or(-1), 2);
  EXPECT_EQ(accepted.standard_error().find("CUTOVER_LOG_LEVEL"), std::string::npos) << accepted.standard_error();
  EXPECT_NE(accepted.standard_error().find("absent.yaml"), std::string::npos) << accepted.standard_error();
  ::unsetenv("CUTOVER_LOG_LEVEL");
}

TEST(Cli, AnUnknownCommandIsNamedWithTheCommandsThereAre) {
  TemporaryDirectory work{"cutover-cli"};
  ChildProcess unknown({CUTOVER_BINARY, "swtich", "plan.yaml"}, work.path());
  EXPECT_EQ(unknown.wait(30s).value_or(-1), 2);
  EXPECT_NE(unknown.standard_error().find("cutover: unknown command \"swtich\"; the commands are validate, "),
            std::string::npos)
      << unknown.standard_error();
  EXPECT_NE(unknown.standard_error().find(" switch, rollback,"), std::string::npos) << unknown.standard_error();
  ChildProcess none({CUTOVER_BINARY}, work.path());
  EXPECT_EQ(none.wait(30s).value_or(-1), 2);
  EXPECT_NE(none.standard_error().find("A subcommand is required"), std::string::npos) << none.standard_error();
}

// validate --json: one JSON object on stdout with every problem, for scripts and CI.
TEST(Cli, ValidateJsonListsEveryProblemWithItsLine) {
  TemporaryDirectory work{"cutover-cli"};
  const std::string bad = work.write_file("bad.yaml", "name: t\nblue:\n  dsn: x\ntables:\n  - source: users\n"
                                                      "    columns: 3\napply:\n  batch_rows: many\n");
  ChildProcess refused({CUTOVER_BINARY, "validate", "--json", bad}, work.path());
  EXPECT_EQ(refused.wait(30s).value_or(-1), 2);
  const auto found = nlohmann::json::parse(refused.standard_output(), nullptr, false);
  ASSERT_TRUE(found.is_object()) << refused.standard_output() << refused.standard_error();
  EXPECT_EQ(found["valid"], false);
  const std::string problems = found["problems"].dump();
  EXPECT_NE(problems.find("bad.yaml:8:15: apply.batch_rows: must be a whole number"), std::string::npos) << problems;
  EXPECT_NE(problems.find("bad.yaml:6:14: tables[0].columns: must be a mapping"), std::string::npos) << problems;
  const std::string good = work.write_file("good.yaml", "name: t\nblue:\n  dsn: \"host=127.0.0.1\"\ngreen:\n"
                                                        "  dsn: \"host=127.0.0.2\"\ntables:\n  - source: users\n");
  ChildProcess accepted({CUTOVER_BINARY, "validate", "--json", good}, work.path());
  EXPECT_EQ(accepted.wait(30s).value_or(-1), 0) << accepted.standard_output();
  const auto valid = nlohmann::json::parse(accepted.standard_output(), nullptr, false);
  EXPECT_EQ(valid["valid"], true) << accepted.standard_output();
  EXPECT_EQ(valid["plan"], "t") << accepted.standard_output();
  EXPECT_EQ(valid["tables"], 1) << accepted.standard_output();
}

// The commit is what git says of the source tree this binary was built from (checked
// against git itself, not against the generated header).
TEST(Cli, VersionNamesTheCommitItWasBuiltFrom) {
  TemporaryDirectory work{"cutover-cli"};
  ChildProcess git({"git", "-C", CUTOVER_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"}, work.path());
  ASSERT_EQ(git.wait(30s).value_or(-1), 0) << git.standard_error();
  std::string commit = git.standard_output();
  commit.erase(commit.find_last_not_of("\n") + 1);
  ChildProcess version({CUTOVER_BINARY, "--version"}, work.path());
  EXPECT_EQ(version.wait(30s).value_or(-1), 0);
  EXPECT_EQ(version.standard_output().rfind("cutover 0.1.0 (commit " + commit, 0), 0) << version.standard_output();
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInputCorpus, ::testing::ValuesIn(with_run_variants(corpus())),
                         [](const auto& instance) { return instance.param.name; });

}  // namespace
}  // namespace cutover::testing
