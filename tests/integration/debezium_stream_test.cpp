// The Debezium-form stream (kafka.debezium) held to Debezium itself: Debezium 3.6's own
// PostgreSQL connector, in Kafka Connect (scripts/install-kafka-connect), and `cutover run`
// read the same changes from the same blue into the same real Kafka broker, and every
// record's key and value must be equal field by field, but for what docs/debezium.md lists
// as different (the processing times ts_ms/ts_us/ts_ns, source.version, and the prefix in
// topic and schema names). Green must still equal blue: the change log goes on beside it.
#include <gtest/gtest.h>

#include <csignal>
#include <iostream>
#include <map>
#include <numeric>
#include <regex>
#include <set>
#include <thread>

#include <pqxx/pqxx>

#include "fixtures/change_log_reader.h"
#include "fixtures/child_process.h"
#include "fixtures/forward_harness.h"
#include "fixtures/kafka_cluster.h"
#include "fixtures/kafka_connect.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// Tables of many types, one with REPLICA IDENTITY FULL, a composite key in another order than
// the columns, defaults of every kind Debezium reads, and TOAST-able values.
const std::string kSchema = R"(
  CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE public.kinds (
    id int PRIMARY KEY, small smallint, big bigint NOT NULL DEFAULT 7, flag boolean, real_v real,
    double_v double precision, exact numeric(12,3), loose numeric, name text NOT NULL DEFAULT 'x',
    code varchar(10), fixed char(4), day date, clock time, clock3 time(3), clock0 time(0), clocktz timetz,
    stamp timestamp, stamp3 timestamp(3), stamp0 timestamp(0), stamptz timestamptz, stamptz3 timestamptz(3),
    span interval, raw bytea, doc jsonb, doc_json json, ident uuid, bits bit(10), bit1 bit(1), varbits varbit,
    ints int[], texts text[], money_v money, address inet, mac macaddr, feeling mood, range_v int4range,
    xml_v xml, big_text text, oid_v oid, cidr_v cidr, numarr numeric[]);
  ALTER TABLE public.kinds ALTER big_text SET STORAGE EXTERNAL;
  CREATE TABLE public.edge (
    a int, b text, loose numeric, exact numeric(6,2), tz timestamptz, tz0 timestamptz(0), ttz timetz,
    bits bit(8), bits0 bit(4), day date, stamp timestamp, stamp3 timestamp(3), big_raw bytea, big_doc jsonb,
    big_arr text[], note text, d_date date DEFAULT '2024-01-01', d_num numeric(5,1) NOT NULL DEFAULT 1.5,
    d_bool boolean NOT NULL DEFAULT true, d_neg int NOT NULL DEFAULT -3,
    d_now timestamptz NOT NULL DEFAULT '2020-01-01 00:00:00+00', d_serial bigint NOT NULL DEFAULT 0,
    d_vc varchar(10) NOT NULL DEFAULT 'abc', d_raw bytea NOT NULL DEFAULT '\x0102', PRIMARY KEY (b, a));
  ALTER TABLE public.edge REPLICA IDENTITY FULL;
  ALTER TABLE public.edge ALTER big_raw SET STORAGE EXTERNAL, ALTER big_doc SET STORAGE EXTERNAL,
    ALTER big_arr SET STORAGE EXTERNAL;
)";

// Inserts, updates (TOAST left unchanged), key changes and deletes, in one- and
// several-statement transactions, and a change of replica identity in between.
const std::vector<std::string> kChanges = {
    R"(INSERT INTO public.kinds VALUES (1, -32768, 9223372036854775807, true, 1.5, -2.25e-300, 123456789.125,
       -0.000000000000000000012345678901234567890, 'tab	and "quote" é', 'v', 'ab', '2024-02-29', '23:59:59.999999',
       '12:00:00.123', '01:02:03', '10:11:12.5+05:30', '2024-03-04 05:06:07.891234', '2024-03-04 05:06:07.891',
       '2024-03-04 05:06:07', '2024-03-04 08:00:00.5+00', '2024-03-04 08:00:00.5+02', '1 year 2 mons 3 days 04:05:06.789',
       '\x00ff10', '{"b": 1, "a": [1, 2.50]}', '{"b":1,  "a":2}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', B'1011000001',
       B'1', B'101', '{1,NULL,3}', '{"a b","c"}', 12.34, '192.168.0.1/24', '08:00:2b:01:02:03', 'happy', '[1,5)',
       '<a>1</a>', repeat('z', 5000), 4000000000, '10.0.0.0/8', '{1.5,NULL}'))",
    R"(INSERT INTO public.kinds (id, real_v, double_v, loose, day, stamp, stamptz, span, exact)
       VALUES (2, 'NaN', '-Infinity', 'NaN', '0044-03-15 BC', 'infinity', '-infinity', '-3 days -00:00:01', -0.5))",
    "UPDATE public.kinds SET small = 5 WHERE id = 1",
    "UPDATE public.kinds SET id = 3 WHERE id = 2",
    "DELETE FROM public.kinds WHERE id = 3",
    "BEGIN; INSERT INTO public.kinds (id) VALUES (4); INSERT INTO public.kinds (id) VALUES (5); COMMIT",
    R"(INSERT INTO public.edge (a, b, loose, exact, tz, tz0, ttz, bits, bits0, day, stamp, stamp3, big_raw, big_doc,
       big_arr, note) VALUES
       (1, 'k', 2.50, 'NaN', '2024-03-04 08:00:00+00', '2024-03-04 08:00:00.7+00', '10:11:12-08', B'11111111', B'0000',
        'infinity', '-infinity', 'infinity', decode(repeat('ab', 5000), 'hex'), ('{"k": "' || repeat('q', 5000) || '"}')::jsonb,
        ARRAY[repeat('w', 5000)], 'n1'),
       (2, 'k', 100, 12.5, 'infinity', '1999-12-31 23:59:59+01', '00:00:00+00', B'00000001', B'1000', '-infinity',
        '1970-01-01 00:00:00.000001', '1969-12-31 23:59:59.999', NULL, NULL, NULL, 'n2'),
       (3, 'k', 0, -0.01, '0001-01-01 00:00:00+00', NULL, '23:59:59.999999+14', NULL, NULL, '1970-01-01', '0001-01-01 BC',
        NULL, NULL, NULL, NULL, 'n3'),
       (4, 'k', -1.000, 9999.99, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'n4'),
       (5, 'k', 123456789012345678901234567890.123456789, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL, NULL, 'n5'))",
    "UPDATE public.edge SET note = 'changed' WHERE a = 1",
    "UPDATE public.edge SET a = 6 WHERE a = 2",
    "DELETE FROM public.edge WHERE a = 3",
    // A real NULL in a nullable column with a default: JsonConverter may write the default.
    "INSERT INTO public.edge (a, b, note, d_date) VALUES (7, 'k', 'n7', NULL)",
    "BEGIN; UPDATE public.kinds SET small = 9 WHERE id = 4; UPDATE public.edge SET note = 'both' WHERE a = 4; COMMIT",
    "ALTER TABLE public.kinds REPLICA IDENTITY FULL",
    "UPDATE public.kinds SET small = 6 WHERE id = 1",
    "DELETE FROM public.kinds WHERE id = 4",
};

// Rows both find when they start: Debezium's initial snapshot and cutover's snapshot_events
// publish them as `op: r` (kinds has one, so it is both the first and the last of its table).
const std::string kSnapshotRows = R"(
  INSERT INTO public.kinds (id, small, real_v, loose, day, stamptz, span, raw, doc, bits, ints, feeling, money_v)
    VALUES (101, 7, 2.5, 3.25, '2023-05-06', '2023-05-06 07:08:09.5+00', '2 days 03:00:00', '\x0a0b', '{"s": 1}',
            B'0000000011', '{4,5}', 'ok', 3.5);
  INSERT INTO public.edge (a, b, loose, tz, note, big_doc) VALUES
    (101, 's', 1.5, '2022-01-02 03:04:05+00', 's1', ('{"k": "' || repeat('p', 3000) || '"}')::jsonb),
    (102, 's', NULL, NULL, 's2', NULL), (103, 't', -7, 'infinity', NULL, NULL);
)";

// Debezium's connector on `blue` with topic prefix "dbz", its slot and publication its own.
std::vector<KafkaConnect::Properties> debezium_connector(const PostgresCluster& blue) {
  return {{{"name", "dbz"},
           {"connector.class", "io.debezium.connector.postgresql.PostgresConnector"},
           {"plugin.name", "pgoutput"},
           {"database.hostname", "127.0.0.1"},
           {"database.port", std::to_string(blue.port())},
           {"database.user", "postgres"},
           {"database.password", "unused"},
           {"database.dbname", "postgres"},
           {"topic.prefix", "dbz"},
           {"slot.name", "dbz_slot"},
           {"publication.name", "dbz_publication"},
           {"publication.autocreate.mode", "filtered"},
           {"table.include.list", "public.kinds,public.edge"},
           {"provide.transaction.metadata", "true"}}};
}

// A record with what may differ taken out, and cutover's prefix written as Debezium's.
nlohmann::json comparable(const nlohmann::json& record) {
  if (record.is_null() || record.is_discarded()) return record;
  std::string text = std::regex_replace(record.dump(), std::regex("\"cz\\."), "\"dbz.");
  nlohmann::json value = nlohmann::json::parse(text);
  nlohmann::json* payload = value.contains("payload") ? &value["payload"] : &value;
  if (payload->is_object()) {
    for (const char* processing_time : {"ts_ms", "ts_us", "ts_ns"}) {
      if (payload->contains("op")) payload->erase(processing_time);
    }
    if (payload->contains("source")) {
      auto& source = (*payload)["source"];
      source.erase("version");
      source["name"] = "dbz";
      if (payload->value("op", "") == "r") {
        // A snapshot's position, transaction and time are each snapshot's own (Debezium's
        // slot is not cutover's); expect_snapshot_positions checks cutover's.
        for (const char* own : {"lsn", "txId", "sequence", "ts_ms", "ts_us", "ts_ns"}) source.erase(own);
      }
    }
  }
  return value;
}

void expect_same_records(const std::vector<ChangeLogEvent>& debezium, const std::vector<ChangeLogEvent>& cutover,
                         const std::string& topic) {
  ASSERT_EQ(cutover.size(), debezium.size()) << topic;
  for (std::size_t index = 0; index < debezium.size(); ++index) {
    const auto expected_key = comparable(debezium[index].key);
    const auto actual_key = comparable(cutover[index].key);
    EXPECT_EQ(actual_key, expected_key) << topic << " record " << index << " key";
    const auto expected = comparable(debezium[index].value);
    const auto actual = comparable(cutover[index].value);
    if (expected == actual) continue;
    ASSERT_EQ(actual.is_object(), expected.is_object()) << topic << " record " << index << ": "
                                                        << actual.dump().substr(0, 300);
    // Say which part differs: a whole schema in a message buries it.
    for (const auto& [part, expected_part] : expected.items()) {
      if (actual.value(part, nlohmann::json()) == expected_part) continue;
      if (expected_part.is_object()) {
        for (const auto& [field, expected_field] : expected_part.items()) {
          const auto actual_field = actual[part].value(field, nlohmann::json());
          EXPECT_EQ(actual_field, expected_field) << topic << " record " << index << " " << part << "." << field;
        }
      } else {
        EXPECT_EQ(actual.value(part, nlohmann::json()), expected_part) << topic << " record " << index << " " << part;
      }
    }
  }
}

// cutover's `r` events all name the slot's consistent point, which green recorded, and one
// snapshot transaction and time.
void expect_snapshot_positions(const std::vector<ChangeLogEvent>& events, const std::string& consistent_lsn) {
  std::set<std::string> transactions;
  std::size_t snapshot_rows = 0;
  for (const auto& event : events) {
    if (!event.value.is_object() || event.value["payload"].value("op", "") != "r") continue;
    ++snapshot_rows;
    const auto& source = event.value["payload"]["source"];
    EXPECT_EQ(source["lsn"].dump(), consistent_lsn) << source.dump();
    EXPECT_EQ(source["sequence"], "[null,\"" + consistent_lsn + "\"]") << source.dump();
    transactions.insert(source["txId"].dump() + " " + source["ts_us"].dump());
  }
  EXPECT_GT(snapshot_rows, 0u);
  EXPECT_EQ(transactions.size(), 1u);
}

TEST(DebeziumStream, EveryRecordEqualsWhatDebeziumsOwnConnectorWritesForTheSameChanges) {
  KafkaCluster kafka;
  ForwardHarness harness;
  harness.blue().execute(kSchema);
  harness.green().execute(kSchema);
  harness.blue().execute(kSnapshotRows);
  KafkaConnect connect(kafka.bootstrap(), debezium_connector(harness.blue()));
  harness.write_plan("  - source: public.kinds\n  - source: public.edge\n", "",
                     "kafka:\n  brokers: \"" + kafka.bootstrap() +
                         "\"\n  debezium:\n    topic_prefix: cz\n    snapshot_events: true\n");
  harness.start_run();
  // Both slots stream before the first change: Debezium's is in use once its snapshot is done.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (harness.blue().query_value("SELECT active FROM pg_replication_slots WHERE slot_name = 'dbz_slot'") != "t") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "Debezium did not start streaming\n" << connect.log();
    std::this_thread::sleep_for(200ms);
  }
  for (const auto& change : kChanges) harness.blue().execute(change);

  // kinds: 1 snapshot row, then 2 + 1 + 3 (a key change: delete, tombstone, create) + 2 (delete, tombstone) + 2 + 1
  // + 1 + 2; edge: 3 snapshot rows, then 5 + 1 + 3 + 2 + 1 + 1; 14 transactions, each a BEGIN and an END (the
  // snapshot has none).
  const std::vector<std::pair<std::string, std::size_t>> topics = {
      {"public.kinds", 15}, {"public.edge", 16}, {"transaction", 28}};
  for (const auto& [name, count] : topics) {
    ChangeLogReader theirs(kafka.bootstrap(), "dbz." + name);
    ChangeLogReader ours(kafka.bootstrap(), "cz." + name);
    const auto enough = [count = count](const auto& events) { return events.size() >= count; };
    ASSERT_TRUE(theirs.wait_until(enough, 90s)) << name << ": Debezium wrote " << theirs.events().size() << "\n"
                                                << connect.log();
    ASSERT_TRUE(ours.wait_until(enough, 30s)) << name << ": cutover wrote " << ours.events().size() << "\n"
                                              << harness.run().standard_error();
    std::this_thread::sleep_for(2s);  // nothing more comes
    expect_same_records(theirs.events(), ours.events(), name);
    if (name != "transaction") {
      std::smatch point;
      const std::string log = harness.run().standard_error();
      ASSERT_TRUE(std::regex_search(log, point, std::regex("snapshot complete consistent_point=([0-9A-F/]+)")));
      expect_snapshot_positions(ours.events(), harness.blue().query_value("SELECT ('" + point[1].str() +
                                                                          "'::pg_lsn - '0/0'::pg_lsn)::bigint"));
    }
  }
  for (const char* table : {"kinds", "edge"}) {
    const std::string query = std::string("SELECT * FROM public.") + table;
    EXPECT_TRUE(harness.wait_until_equal(query, query)) << table;
  }
  // A second consumer, in Python and apart from cutover's code, decodes every value by its
  // schema and finds blue's row in it.
  for (const auto& [table, key] : {std::pair{"kinds", "id"}, std::pair{"edge", "a"}}) {
    ChildProcess check({"python3", CUTOVER_SOURCE_DIR "/tests/integration/debezium_types_check.py", kafka.bootstrap(),
                        std::string("cz.public.") + table, harness.blue().dsn(), std::string("public.") + table, key},
                       harness.work().path());
    EXPECT_EQ(check.wait(120s).value_or(-1), 0) << table << ":\n" << check.standard_output() << check.standard_error();
    EXPECT_NE(check.standard_output().find(" passed, 0 failed"), std::string::npos) << check.standard_output();
    std::cout << table << ": " << check.standard_output();
  }
  // Cleanup leaves the stream's topics to their consumers, and says so.
  harness.run().signal(SIGTERM);
  ASSERT_TRUE(harness.run().wait(60s).has_value());
  ChildProcess cleanup({CUTOVER_BINARY, "cleanup", harness.plan_path()}, harness.work().path());
  EXPECT_EQ(cleanup.wait(120s).value_or(-1), 0) << cleanup.standard_error();
  const std::string said = cleanup.standard_output() + cleanup.standard_error();
  EXPECT_NE(said.find("topic cz.public.kinds of the Debezium-form stream: left"), std::string::npos) << said;
  EXPECT_EQ(kafka.topic_layout("cz.public.edge"), std::make_pair(1, 1)) << said;
}

// pgbench's initial tables on `cluster` (the same rows every time: pgbench -i is deterministic).
// `steps`: pgbench's -I, "dtgvp" for its tables and rows, "dtp" for the empty tables.
void pgbench_init(const PostgresCluster& cluster, const TemporaryDirectory& work, const std::string& steps = "dtgvp") {
  ChildProcess child({kPostgresBin + "pgbench", "-i", "-I", steps, "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                      std::to_string(cluster.port()), "-U", "postgres", "postgres"},
                     work.path());
  ASSERT_EQ(child.wait(120s).value_or(-1), 0) << child.standard_error();
}

// pgbench's TPC-B on `cluster`, to its end.
int pgbench_on(const PostgresCluster& cluster, const TemporaryDirectory& work, const std::vector<std::string>& options) {
  std::vector<std::string> argv = {kPostgresBin + "pgbench", "-h", "127.0.0.1", "-p", std::to_string(cluster.port()),
                                   "-U", "postgres"};
  argv.insert(argv.end(), options.begin(), options.end());
  argv.push_back("postgres");
  ChildProcess child(argv, work.path());
  const int exit_code = child.wait(600s).value_or(-1);
  EXPECT_EQ(exit_code, 0) << child.standard_error();
  return exit_code;
}

// Waits until `cluster` and the sink's database hold the same rows of pgbench's keyed tables.
void expect_sink_equal_to(PostgresCluster& cluster, const char* side, PostgresCluster& warehouse,
                          KafkaConnect& connect) {
  for (const char* table : {"pgbench_accounts", "pgbench_branches", "pgbench_tellers"}) {
    const std::string query = std::string("SELECT * FROM ") + table;
    std::string expected;
    std::string actual;
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    while (std::chrono::steady_clock::now() < deadline) {
      expected = ForwardHarness::digest(cluster, query);
      actual = ForwardHarness::digest(warehouse, query);
      if (expected == actual) break;
      std::this_thread::sleep_for(500ms);
    }
    EXPECT_EQ(actual, expected) << table << ": the sink's database differs from " << side << "\n"
                                << connect.state("sink") << "\n" << connect.log();
  }
}

// A consumer nobody here wrote: Debezium's JDBC sink, in Kafka Connect, reads the stream of a
// run under pgbench (with key changes and deletes added) into a third, empty database, from the
// snapshot's rows on (pgbench writes while they are published), which must end equal to blue
// table by table; and after the switch, when green publishes the stream, equal
// to green after pgbench and key changes there.
TEST(DebeziumStream, DebeziumsJdbcSinkKeepsAThirdDatabaseEqualToBlueThenToGreenAfterTheSwitch) {
  ::setenv("CUTOVER_TOKEN", "debezium-token", 1);  // for the switch, in the run and the CLI
  KafkaCluster kafka;
  ForwardHarness harness;
  PostgresCluster warehouse;
  pgbench_init(harness.blue(), harness.work());
  // The sink's tables start empty: the stream's snapshot rows (op r) fill them.
  pgbench_init(warehouse, harness.work(), "dtp");
  harness.blue().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");
  harness.create_pgbench_schema_on_green();
  harness.green().execute("ALTER TABLE pgbench_history REPLICA IDENTITY FULL");  // for the way back
  harness.write_plan(kPgbenchTables,
                     "state_dir: " + harness.work().path() + "/state\n"
                     "verify:\n  before_switch: none\ncutover:\n  max_lag: 60s\n  fence_blue: true\n  switch:\n"
                     "    command: [\"/bin/true\", \"{to}\"]\n",
                     "kafka:\n  brokers: \"" + kafka.bootstrap() +
                         "\"\n  debezium:\n    topic_prefix: cz\n    snapshot_events: true\n");
  harness.start_run(false);
  // pgbench starts with the run: it writes while the snapshot's rows are published.
  std::thread load([&] { pgbench_on(harness.blue(), harness.work(), {"-c", "4", "-j", "2", "-T", "15", "-n"}); });
  KafkaConnect connect(kafka.bootstrap(),
                       {{{"name", "sink"},
                         {"connector.class", "io.debezium.connector.jdbc.JdbcSinkConnector"},
                         {"tasks.max", "1"},
                         {"topics", "cz.public.pgbench_accounts,cz.public.pgbench_branches,cz.public.pgbench_tellers"},
                         {"connection.url", "jdbc:postgresql://127.0.0.1:" + std::to_string(warehouse.port()) + "/postgres"},
                         {"connection.username", "postgres"},
                         {"connection.password", "unused"},
                         {"insert.mode", "upsert"},
                         {"delete.enabled", "true"},
                         {"primary.key.mode", "record_key"},
                         {"schema.evolution", "none"},
                         {"collection.name.format", "${source.table}"}}});
  load.join();
  harness.blue().execute("UPDATE pgbench_tellers SET tid = tid + 1000 WHERE tid <= 3;"
                         "UPDATE pgbench_accounts SET aid = aid + 1000000, abalance = abalance + 1 WHERE aid % 250 = 0;"
                         "DELETE FROM pgbench_accounts WHERE aid % 97 = 0;"
                         "DELETE FROM pgbench_branches WHERE bid = 1");
  expect_sink_equal_to(harness.blue(), "blue", warehouse, connect);
  EXPECT_GT(harness.blue().query_number("SELECT count(*) FROM pgbench_history"), 100);
  EXPECT_EQ(connect.state("sink"), "RUNNING/RUNNING");

  // The application moves to green; the stream goes on from green's changes.
  const auto verified = harness.cli({"verify"});
  ASSERT_EQ(verified.exit_code, 0) << verified.errors << verified.output.dump(2) << harness.run().standard_error();
  const auto switched = harness.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << harness.run().standard_error();
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (harness.cli({"status"}).output.value("direction", std::string()) != "reverse") {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << harness.run().standard_error();
    std::this_thread::sleep_for(300ms);
  }
  const long history_before = harness.green().query_number("SELECT count(*) FROM pgbench_history");
  harness.green().execute("INSERT INTO pgbench_branches VALUES (1, 42)");  // pgbench counts branches for its scale
  ASSERT_EQ(pgbench_on(harness.green(), harness.work(), {"-c", "4", "-j", "2", "-T", "10", "-n"}), 0);
  harness.green().execute("UPDATE pgbench_tellers SET tid = tid + 2000 WHERE tid > 1000;"
                          "UPDATE pgbench_accounts SET aid = aid + 3000000 WHERE aid % 333 = 0;"
                          "DELETE FROM pgbench_accounts WHERE aid % 101 = 0");
  EXPECT_GT(harness.green().query_number("SELECT count(*) FROM pgbench_history"), history_before + 100);
  expect_sink_equal_to(harness.green(), "green after the switch", warehouse, connect);
  EXPECT_EQ(connect.state("sink"), "RUNNING/RUNNING");
  // Blue, kept current for a rollback, holds the same.
  EXPECT_TRUE(harness.wait_until_equal("SELECT * FROM pgbench_accounts", "SELECT * FROM pgbench_accounts"));
}

// Where a topic's partition 0 ends for a read-committed consumer (its last stable offset)
// and for one reading uncommitted records, and every record on the position topic: what a
// failure of the exactly-once test needs to tell an open transaction from a lost commit.
std::string describe_transactions(const KafkaCluster& kafka, const std::string& topic,
                                  const std::string& position_topic) {
  std::string said;
  for (const char* isolation : {"read_committed", "read_uncommitted"}) {
    auto client = create_kafka_client(RD_KAFKA_CONSUMER, kafka.bootstrap(),
                                      {{"group.id", "cutover-test-watermarks"}, {"isolation.level", isolation}}, {});
    if (!client) return said + client.status().message();
    std::int64_t low = 0;
    std::int64_t high = 0;
    const auto queried = rd_kafka_query_watermark_offsets(client->get(), topic.c_str(), 0, &low, &high, 10000);
    said += std::string(isolation) + ": " + topic + " offsets " + std::to_string(low) + ".." + std::to_string(high) +
            " (" + rd_kafka_err2str(queried) + ")\n";
  }
  ChangeLogReader positions(kafka.bootstrap(), position_topic, RD_KAFKA_OFFSET_BEGINNING, true);
  std::this_thread::sleep_for(3s);
  for (const auto& record : positions.events()) {
    said += "position at " + std::to_string(record.offset) + ": " + record.value.dump() + "\n";
  }
  return said + "broker log:\n" + kafka.log_of(1);
}

// Puts one record on `topic` as a plain (not transactional) producer would.
void produce_record(const KafkaCluster& kafka, const std::string& topic, const std::string& key,
                    const std::string& value) {
  auto producer = create_kafka_client(RD_KAFKA_PRODUCER, kafka.bootstrap(), {}, {});
  ASSERT_TRUE(producer) << producer.status().message();
  rd_kafka_topic_t* to = rd_kafka_topic_new(producer->get(), topic.c_str(), nullptr);
  ASSERT_NE(to, nullptr);
  const int produced = rd_kafka_produce(to, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()), value.size(),
                                        key.data(), key.size(), nullptr);
  rd_kafka_topic_destroy(to);
  ASSERT_EQ(produced, 0) << rd_kafka_err2str(rd_kafka_last_error());
  ASSERT_EQ(rd_kafka_flush(producer->get(), 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Exactly once through Kafka transactions: the run is killed (-9) twice, once in the middle of
// a transaction of 50,000 rows that goes to Kafka in pieces of 1,000, and started again; a
// consumer that reads committed records finds every change of blue on the topic exactly once,
// while one that reads uncommitted records also sees the pieces the killed runs left open.
// (With exactly_once: false the same run put 37,983 duplicates on the topic.)
TEST(DebeziumStream, AfterKillNineEveryChangeIsOnItsTopicOnceForAReadCommittedConsumer) {
  KafkaCluster kafka;
  ForwardHarness harness;
  for (auto* side : {&harness.blue(), &harness.green()}) {
    side->execute("CREATE TABLE public.items (id int PRIMARY KEY, n int NOT NULL)");
  }
  harness.write_plan("  - source: public.items\n", "state_dir: " + harness.work().path() + "/state\n",
                     "kafka:\n  brokers: \"" + kafka.bootstrap() +
                         "\"\n  debezium:\n    topic_prefix: cz\n    transaction_records: 1000\n");
  harness.start_run();
  ChangeLogReader committed(kafka.bootstrap(), "cz.public.items");
  std::size_t changes = 0;
  auto small_transactions = [&](int first, int count) {
    for (int id = first; id < first + count; ++id) {
      harness.blue().execute("INSERT INTO public.items VALUES (" + std::to_string(id) + ", 0)");
      harness.blue().execute("UPDATE public.items SET n = n + 1 WHERE id = " + std::to_string(id));
      changes += 2;
    }
  };
  small_transactions(1, 300);
  // Killed while it publishes small transactions.
  std::thread writer([&] { small_transactions(1000, 300); });
  std::this_thread::sleep_for(1500ms);
  harness.kill_run();
  writer.join();
  harness.start_run();
  // Killed in the middle of one big transaction, once Kafka holds pieces of it: green is
  // locked, so the applier waits and capture, which runs at most 2 MiB ahead of it, stops
  // part-way.
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM public.items", "SELECT * FROM public.items"));
  ASSERT_TRUE(committed.wait_until([&](const auto& events) { return events.size() >= changes; }, 60s));
  std::this_thread::sleep_for(1s);
  const std::size_t before_big = committed.events().size();
  {
    pqxx::connection green(harness.green().dsn());
    pqxx::work lock(green);
    lock.exec("LOCK TABLE public.items IN ACCESS EXCLUSIVE MODE");
    harness.blue().execute("INSERT INTO public.items SELECT g, 1 FROM generate_series(100000, 149999) g");
    changes += 50000;
    ASSERT_TRUE(committed.wait_until([&](const auto& events) { return events.size() >= before_big + 2000; }, 120s))
        << committed.events().size() << "\n" << harness.run().standard_error();
    std::this_thread::sleep_for(2s);
    const std::size_t held = committed.events().size();
    EXPECT_LT(held, before_big + 50000) << "the big transaction went whole before the kill";
    harness.kill_run();
  }
  harness.start_run();
  // The new run read how far Kafka holds the stream, with the piece of the big transaction.
  EXPECT_TRUE(harness.run().wait_for_output("debezium stream exactly once transactional_id=cutover-t-forward", 30s))
      << harness.run().standard_error();
  small_transactions(2000, 100);
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM public.items", "SELECT * FROM public.items"));
  ASSERT_TRUE(committed.wait_until([&](const auto& events) { return events.size() >= changes; }, 120s))
      << committed.events().size() << " of " << changes << "\n" << harness.run().standard_error()
      << committed.troubles() << "\n" << describe_transactions(kafka, "cz.public.items", "cutover.t.changes.debezium_position");
  std::this_thread::sleep_for(3s);  // nothing more comes

  const auto events = committed.events();
  EXPECT_EQ(events.size(), changes);
  std::set<std::string> seen;
  std::size_t duplicates = 0;
  for (const auto& event : events) {
    const auto& payload = event.value["payload"];
    const std::string identity = payload["source"]["lsn"].dump() + " " + payload["op"].get<std::string>() + " " +
                                 payload["after"]["id"].dump();
    if (!seen.insert(identity).second) ++duplicates;
  }
  EXPECT_EQ(duplicates, 0u);
  // The newest image of every row is blue's.
  std::map<int, int> newest;
  for (const auto& event : events) newest[event.value["payload"]["after"]["id"].get<int>()] = event.value["payload"]["after"]["n"].get<int>();
  EXPECT_EQ(static_cast<long>(newest.size()), harness.blue().query_number("SELECT count(*) FROM public.items"));
  EXPECT_EQ(std::accumulate(newest.begin(), newest.end(), 0L, [](long sum, const auto& row) { return sum + row.second; }),
            harness.blue().query_number("SELECT sum(n) FROM public.items"));
  // The killed runs left Kafka transactions open, which their successors aborted.
  ChangeLogReader uncommitted(kafka.bootstrap(), "cz.public.items", RD_KAFKA_OFFSET_BEGINNING, true);
  EXPECT_TRUE(uncommitted.wait_until([&](const auto& all) { return all.size() > changes; }, 30s))
      << uncommitted.events().size() << " records read uncommitted, " << changes << " changes; " << uncommitted.troubles()
      << "\n" << describe_transactions(kafka, "cz.public.items", "cutover.t.changes.debezium_position");
}

// A position record another blue left on the position topic (an earlier move with the same
// plan name and topic prefix whose topics were not cleaned up) says Kafka holds transactions
// up to blue's present WAL position. Capture sets it aside instead of leaving out the changes
// blue made while cutover was stopped: every one of them is published, once.
TEST(DebeziumStream, APositionLeftByAnotherSourceIsSetAsideAndNoChangeIsLeftOut) {
  KafkaCluster kafka;
  ForwardHarness harness;
  for (auto* side : {&harness.blue(), &harness.green()}) {
    side->execute("CREATE TABLE public.items (id int PRIMARY KEY, n int NOT NULL)");
  }
  harness.write_plan("  - source: public.items\n", "state_dir: " + harness.work().path() + "/state\n",
                     "kafka:\n  brokers: \"" + kafka.bootstrap() + "\"\n  debezium:\n    topic_prefix: cz\n");
  harness.start_run();
  ChangeLogReader committed(kafka.bootstrap(), "cz.public.items");
  int changes = 0;
  auto insert = [&](int first, int count) {
    for (int id = first; id < first + count; ++id) {
      harness.blue().execute("INSERT INTO public.items VALUES (" + std::to_string(id) + ", 0)");
      ++changes;
    }
  };
  insert(1, 20);
  ASSERT_TRUE(committed.wait_until([&](const auto& events) { return static_cast<int>(events.size()) >= changes; }, 60s))
      << committed.troubles() << "\n" << harness.run().standard_error();
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM public.items", "SELECT * FROM public.items"));
  harness.run().signal(SIGTERM);
  ASSERT_EQ(harness.run().wait(60s).value_or(-1), 0) << harness.run().standard_error();

  insert(21, 100);  // while cutover is stopped: blue's slot holds them
  const std::string wal = harness.blue().query_value("SELECT pg_current_wal_lsn()::text");
  const std::string foreign = "7000000000000000001/1/postgres";
  const std::string value = nlohmann::json{{"commit_lsn", wal}, {"end_lsn", wal}, {"partial_commit_lsn", "0/0"},
                                           {"partial_records", 0}, {"source", foreign}}
                                .dump();
  produce_record(kafka, "cutover.t.changes.debezium_position", "t/forward", value);

  harness.start_run();
  EXPECT_TRUE(harness.run().wait_for_output("debezium stream position set aside: it was written from another source (" +
                                                foreign + ", this one is ",
                                            60s))
      << harness.run().standard_error();
  insert(121, 10);
  ASSERT_TRUE(harness.wait_until_equal("SELECT * FROM public.items", "SELECT * FROM public.items"));
  ASSERT_TRUE(committed.wait_until([&](const auto& events) { return static_cast<int>(events.size()) >= changes; }, 60s))
      << committed.troubles() << "\n" << harness.run().standard_error();
  std::this_thread::sleep_for(2s);  // nothing more comes
  // Every change is there; those made since the stop once each. (What Kafka held before it
  // may come twice: the position that said so was set aside.)
  std::map<int, int> copies;
  for (const auto& event : committed.events()) copies[event.value["payload"]["after"]["id"].get<int>()]++;
  EXPECT_EQ(static_cast<int>(copies.size()), changes);
  for (const auto& [id, count] : copies) {
    if (id > 20) {
      EXPECT_EQ(count, 1) << "id " << id;
    }
  }
}

// A column Debezium's mapping has no form for is refused before anything is made, named with
// its table, instead of stopping capture at that table's first change.
TEST(DebeziumStream, AColumnWithoutADebeziumFormIsRefusedBeforeAnythingIsMade) {
  ForwardHarness harness;
  for (auto* side : {&harness.blue(), &harness.green()}) {
    side->execute("CREATE TABLE public.places (id int PRIMARY KEY, spot point, label text)");
    side->execute("CREATE TABLE public.tagged (id int PRIMARY KEY, code int NOT NULL);"
                  "CREATE UNIQUE INDEX tagged_code ON public.tagged (code)");
  }
  // A change of id would reach pgoutput with no old row: published as an update of the new key.
  harness.blue().execute("ALTER TABLE public.tagged REPLICA IDENTITY USING INDEX tagged_code");
  harness.write_plan("  - source: public.places\n  - source: public.tagged\n", "",
                     "kafka:\n  brokers: embedded\n  debezium: {}\n");
  ChildProcess validate({CUTOVER_BINARY, "validate", "--connect", harness.plan_path()}, harness.work().path());
  EXPECT_EQ(validate.wait(120s).value_or(-1), 2);
  const std::string said = validate.standard_output() + validate.standard_error();
  EXPECT_NE(said.find("kafka.debezium: blue's public.places.spot: type point has no Debezium mapping"),
            std::string::npos) << said;
  EXPECT_NE(said.find("kafka.debezium: blue's public.tagged has a replica identity index other than its primary key"),
            std::string::npos) << said;
  ChildProcess run({CUTOVER_BINARY, "run", harness.plan_path()}, harness.work().path());
  EXPECT_NE(run.wait(120s).value_or(-1), 0);
  EXPECT_NE(run.standard_error().find("public.places.spot"), std::string::npos) << run.standard_error();
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_publication"), "0");
}

// `cutover capture` makes no snapshot, so it cannot publish the snapshot's rows a plan asks for:
// it refuses before it makes a slot, rather than start a stream without them.
TEST(DebeziumStream, CaptureAloneRefusesSnapshotEventsBeforeAnythingIsMade) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE public.items (id int PRIMARY KEY, name text); INSERT INTO public.items VALUES (1, 'a')");
  harness.green().execute("CREATE TABLE public.items (id int PRIMARY KEY, name text)");
  harness.write_plan("  - source: public.items\n", "",
                     "kafka:\n  brokers: embedded\n  debezium: {snapshot_events: true}\n");
  ChildProcess capture({CUTOVER_BINARY, "capture", harness.plan_path()}, harness.work().path());
  EXPECT_EQ(capture.wait(120s).value_or(-1), 2) << capture.standard_error();
  EXPECT_NE(capture.standard_error().find("kafka.debezium.snapshot_events: the rows are published with green's "
                                          "snapshot, which cutover run makes and cutover capture does not"),
            std::string::npos)
      << capture.standard_error();
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_replication_slots"), "0");
  EXPECT_EQ(harness.blue().query_value("SELECT count(*) FROM pg_publication"), "0");
}

// A table the plan renames is published on another topic once green publishes the stream:
// validate says so, naming both topics, instead of its consumers going quiet at the switch.
TEST(DebeziumStream, ATableRenamedByThePlanIsNamedWithBothOfItsTopics) {
  ForwardHarness harness;
  harness.blue().execute("CREATE TABLE public.users (id int PRIMARY KEY, name text)");
  harness.green().execute("CREATE TABLE public.accounts (id int PRIMARY KEY, name text)");
  harness.write_plan("  - source: public.users\n    target: public.accounts\n", "",
                     "kafka:\n  brokers: embedded\n  debezium: {topic_prefix: cz}\n");
  ChildProcess validate({CUTOVER_BINARY, "validate", "--connect", harness.plan_path()}, harness.work().path());
  EXPECT_EQ(validate.wait(120s).value_or(-1), 0) << validate.standard_output() << validate.standard_error();
  const std::string said = validate.standard_output() + validate.standard_error();
  EXPECT_NE(said.find("public.users's changes are published on cz.public.users until the switch and on "
                      "cz.public.accounts (green's public.accounts) after it"),
            std::string::npos)
      << said;
}

}  // namespace
}  // namespace cutover::testing
