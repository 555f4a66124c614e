// The applier's transaction boundaries, without servers: a change log held in memory and a
// fake target that keeps what is written in a pending transaction until commit, as green
// does. The oracle is the target's committed rows, compared with what the source's committed
// transactions leave, and the positions committed with them.
#include "cutover/apply/applier.h"

#include <gtest/gtest.h>

#include <map>

namespace cutover {
namespace {

using nlohmann::json;

// A change log of messages given in order; seek() reads again from an offset. Once read to
// its end and found quiet a few times, it asks the applier to stop. Each message read moves
// the test's clock by `tick`.
class MemoryLog : public ChangeLogSource {
 public:
  MemoryLog(std::vector<std::string> messages, std::atomic<bool>& stop, std::chrono::steady_clock::time_point& clock,
            std::chrono::milliseconds tick)
      : messages_(std::move(messages)), stop_(stop), clock_(clock), tick_(tick) {}
  Result<std::optional<ChangeLogMessage>> next(std::chrono::milliseconds) override {
    if (position_ >= messages_.size()) {
      if (++quiet_reads_ > 3) stop_ = true;
      return std::optional<ChangeLogMessage>();
    }
    clock_ += tick_;
    ChangeLogMessage message;
    message.offset = static_cast<std::int64_t>(position_);
    message.value = messages_[position_++];
    return std::optional<ChangeLogMessage>(std::move(message));
  }
  Status seek(std::int64_t offset) override {
    seeks.push_back(offset);
    position_ = static_cast<std::size_t>(offset);
    return Status::ok();
  }
  std::vector<std::int64_t> seeks;

 private:
  std::vector<std::string> messages_;
  std::size_t position_ = 0;
  int quiet_reads_ = 0;
  std::atomic<bool>& stop_;
  std::chrono::steady_clock::time_point& clock_;
  std::chrono::milliseconds tick_;
};

// A target table by key, with the open transaction's changes kept apart until commit.
class TransactionalTarget : public ChangeWriter {
 public:
  struct Commit {
    Lsn source_end;
    std::int64_t next_offset;
    std::size_t rows_written;  // rows written in the transaction this commit ended
  };

  Status write(const TableTransform&, const std::vector<SourceColumn>&,
               std::shared_ptr<const SourceBatch> batch) override {
    for (const auto& [key, pending] : batch->rows()) {
      pending_[key] = pending.after ? std::optional<json>(pending.after->to_json()) : std::nullopt;
      ++pending_rows_;
    }
    return Status::ok();
  }
  Status truncate(const TableTransform&) override {
    truncated_pending_ = true;
    pending_.clear();
    return Status::ok();
  }
  Status commit(Lsn source_end, std::int64_t, std::int64_t next_offset) override {
    if (truncated_pending_) committed.clear();
    for (auto& [key, row] : pending_) {
      if (row) {
        committed[key] = *row;
      } else {
        committed.erase(key);
      }
    }
    commits.push_back({source_end, next_offset, pending_rows_});
    rollback();
    return Status::ok();
  }
  void rollback() override {
    pending_.clear();
    pending_rows_ = 0;
    truncated_pending_ = false;
  }

  std::map<std::string, json> committed;
  std::vector<Commit> commits;

 private:
  std::map<std::string, std::optional<json>> pending_;
  std::size_t pending_rows_ = 0;
  bool truncated_pending_ = false;
};

class NoCurrentRows : public RowSource {
 public:
  Result<std::vector<json>> current_rows(const QualifiedName&, const std::vector<SourceColumn>&,
                                         const std::vector<std::string>&, const std::vector<json>&) override {
    return Status::error("no row is read back in these tests");
  }
};

// Change events as capture writes them (docs/change-events.md), for public.t (id, v).
std::string begin(std::uint64_t commit_lsn) {
  return json{{"status", "BEGIN"}, {"source", {{"commit_lsn", commit_lsn}, {"ts_ms", 1}}}}.dump();
}
std::string end(std::uint64_t commit_lsn) {
  return json{{"status", "END"}, {"source", {{"commit_lsn", commit_lsn}, {"end_lsn", commit_lsn + 1}, {"ts_ms", 1}}}}
      .dump();
}
std::string row(char op, int id, const std::string& value, std::uint64_t commit_lsn) {
  json event = {{"op", std::string(1, op)},
                {"source", {{"schema", "public"}, {"table", "t"}, {"commit_lsn", commit_lsn}}}};
  if (op == 'd') {
    event["before"] = {{"id", id}};
  } else {
    event["after"] = {{"id", id}, {"v", value}};
  }
  return event.dump();
}

TableTransform table_t() {
  TableTransform transform;
  transform.source = {"public", "t"};
  transform.target = {"public", "t"};
  transform.source_columns = {{"id", "integer", "integer", "integer", 23}, {"v", "text", "text", "text", 25}};
  transform.columns = {make_target_column("id", "id", "integer"), make_target_column("v", "v", "text")};
  transform.key = {"id"};
  transform.source_key = {"id"};
  return transform;
}

struct Applied {
  TransactionalTarget target;
  std::vector<std::int64_t> seeks;
  DiscardedRanges discarded;
  Status outcome = Status::ok();
};

// Applies `messages` from `applied` on, with green transactions bounded at `batch_rows` and
// at one second, while each message read takes `tick` of the test's clock.
Applied apply_log(const std::vector<std::string>& messages, long batch_rows, Lsn applied = Lsn(),
                  std::chrono::milliseconds tick = std::chrono::milliseconds(0),
                  const std::vector<TableTransform>& transforms = {table_t()}) {
  Applied run;
  std::atomic<bool> stop{false};
  std::chrono::steady_clock::time_point clock{};
  MemoryLog log(messages, stop, clock, tick);
  ApplySettings settings;
  settings.batch_rows = batch_rows;
  settings.batch_interval = std::chrono::seconds(1);
  ApplyCounters counters;
  ApplyHold hold;
  NoCurrentRows rows;
  AppliedPosition start;
  start.source_lsn = applied;
  Applier applier(settings, transforms, log, run.target, start, counters, run.discarded, stop, rows, hold,
                  [&clock] { return clock; });
  run.outcome = applier.run();
  run.seeks = log.seeks;
  return run;
}

// The committed row of public.t with `id`, if any.
std::optional<json> committed_row(const TransactionalTarget& target, int id) {
  for (const auto& [key, row] : target.committed) {
    if (row.at("id") == id) return row;
  }
  return std::nullopt;
}

TEST(Applier, ASourceTransactionIsCommittedWholeEvenWhenItsRowsAreFlushedBeforeItsEnd) {
  // Five rows in one source transaction, green transactions bounded at two rows: rows reach
  // the target before the END, but nothing commits until it.
  std::vector<std::string> log = {begin(100)};
  for (int id = 1; id <= 5; ++id) log.push_back(row('c', id, "v" + std::to_string(id), 100));
  log.push_back(end(100));
  log.push_back(begin(200));
  log.push_back(row('u', 3, "changed", 200));
  log.push_back(row('d', 5, "", 200));
  log.push_back(end(200));
  const Applied run = apply_log(log, 2);
  ASSERT_TRUE(run.outcome) << run.outcome.message();
  ASSERT_EQ(run.target.commits.size(), 2U);
  EXPECT_EQ(run.target.commits[0].source_end, Lsn(101));
  EXPECT_EQ(run.target.commits[0].next_offset, 7) << "the offset after the first END";
  EXPECT_EQ(run.target.commits[0].rows_written, 5U);
  EXPECT_EQ(run.target.commits[1].source_end, Lsn(201));
  EXPECT_EQ(run.target.commits[1].next_offset, 11);
  EXPECT_EQ(run.target.committed.size(), 4U);
  EXPECT_EQ(committed_row(run.target, 3).value()["v"], "changed");
  EXPECT_FALSE(committed_row(run.target, 5));
}

TEST(Applier, TransactionsAtOrBelowTheAppliedPositionChangeNothing) {
  // After a capture restart the log holds transactions green has already: skipped.
  const Applied run = apply_log({begin(100), row('c', 1, "old", 100), end(100), begin(300), row('c', 2, "new", 300),
                         end(300)},
                        1000, Lsn(150));
  ASSERT_TRUE(run.outcome) << run.outcome.message();
  ASSERT_EQ(run.target.commits.size(), 1U);
  EXPECT_EQ(run.target.commits[0].source_end, Lsn(301));
  EXPECT_EQ(run.target.committed.size(), 1U);
  EXPECT_TRUE(committed_row(run.target, 2));
}

// A table described under `table` with relation OID `oid`: columns id and v, v of type `v_oid`.
std::string schema_event(const std::string& table, std::uint32_t oid, std::uint64_t commit_lsn,
                         std::uint32_t v_oid = 25) {
  return json{{"op", "schema"},
              {"schema",
               {{"columns",
                 {{{"name", "id"}, {"type", "int4"}, {"type_oid", 23}, {"type_modifier", -1}, {"key", true}},
                  {{"name", "v"}, {"type", v_oid == 25 ? "text" : "int8"}, {"type_oid", v_oid},
                   {"type_modifier", -1}, {"key", false}}}},
                {"replica_identity", "d"},
                {"relation_oid", oid}}},
              {"source", {{"schema", "public"}, {"table", table}, {"commit_lsn", commit_lsn}}}}
      .dump();
}

// public.t as the plan resolved it, OID 7001.
std::vector<TableTransform> table_t_with_oid() {
  auto transform = table_t();
  transform.source_oid = 7001;
  return {transform};
}

TEST(Applier, ATableDescribedUnderItsOldNameInATransactionGreenHoldsIsNotARename) {
  // The plan names public.t, which was public.old_t: a restart reads again a transaction from
  // before the rename, which green has, and its description names old_t; the next transaction
  // describes the table under its new name.
  const Applied run = apply_log({begin(100), schema_event("old_t", 7001, 100), end(100), begin(300),
                                 schema_event("t", 7001, 300), row('c', 2, "new", 300), end(300)},
                                1000, Lsn(150), std::chrono::milliseconds(0), table_t_with_oid());
  ASSERT_TRUE(run.outcome) << run.outcome.message();
  EXPECT_TRUE(committed_row(run.target, 2));

  // The same description in a transaction green does not hold yet is a rename, and halts.
  const Applied halted = apply_log({begin(200), schema_event("old_t", 7001, 200), row('c', 3, "x", 200), end(200)},
                                   1000, Lsn(150), std::chrono::milliseconds(0), table_t_with_oid());
  EXPECT_FALSE(halted.outcome);
  EXPECT_NE(halted.outcome.message().find("renamed"), std::string::npos) << halted.outcome.message();
  EXPECT_TRUE(halted.target.committed.empty());
}

TEST(Applier, ADescriptionFromATransactionGreenHoldsStillJudgesTheRowsThatFollowUnderIt) {
  // pgoutput describes a table once per session: here in a transaction green holds, with v of
  // another type than the plan resolved (ALTER COLUMN TYPE while cutover was stopped). The next
  // transaction's rows come in that shape without a description of their own: they must halt,
  // not be cast to the plan's type.
  const Applied run = apply_log({begin(100), schema_event("t", 7001, 100, 20), end(100), begin(300),
                                 row('c', 2, "5", 300), end(300)},
                                1000, Lsn(150), std::chrono::milliseconds(0), table_t_with_oid());
  EXPECT_FALSE(run.outcome);
  EXPECT_NE(run.outcome.message().find("column public.t.v, which the plan reads, changed type"), std::string::npos)
      << run.outcome.message();
  EXPECT_TRUE(run.target.committed.empty());
}

TEST(Applier, ATransactionCutOffByACaptureRestartIsDiscardedAndTheRestReadAgain) {
  // T1 complete but not yet committed; T2 cut off after one row; then T2 sent whole again.
  const std::vector<std::string> log = {
      begin(100), row('c', 1, "a", 100), end(100),                        // offsets 0-2
      begin(200), row('c', 2, "cut", 200),                                // offsets 3-4: cut off
      begin(200), row('c', 2, "b", 200), row('c', 3, "c", 200), end(200)  // offsets 5-8
  };
  const Applied run = apply_log(log, 1000);
  ASSERT_TRUE(run.outcome) << run.outcome.message();
  ASSERT_EQ(run.discarded.size(), 1U);
  EXPECT_EQ(run.discarded[0], (std::pair<std::int64_t, std::int64_t>{3, 5}));
  EXPECT_EQ(run.seeks, std::vector<std::int64_t>{0}) << "T1, rolled back with T2's start, is read again";
  EXPECT_EQ(run.target.committed.size(), 3U);
  EXPECT_EQ(committed_row(run.target, 2).value()["v"], "b");
  EXPECT_EQ(run.target.commits.back().source_end, Lsn(201));
  EXPECT_EQ(run.target.commits.back().next_offset, 9);
}

TEST(Applier, StoppingCommitsNothingOfAnOpenTransactionEvenWhatItFlushed) {
  // Bounded at one row: T1 commits at its END; T2's row is flushed to the target, but T2 has
  // no END when the log stops, so the target's transaction is rolled back.
  const Applied run = apply_log({begin(100), row('c', 1, "a", 100), end(100), begin(200), row('c', 2, "open", 200)}, 1);
  ASSERT_TRUE(run.outcome) << run.outcome.message();
  ASSERT_EQ(run.target.commits.size(), 1U);
  EXPECT_EQ(run.target.commits.back().source_end, Lsn(101));
  EXPECT_EQ(run.target.commits.back().next_offset, 3) << "the open transaction is read again next time";
  EXPECT_EQ(run.target.committed.size(), 1U);
  EXPECT_FALSE(committed_row(run.target, 2));
}

// Capture numbers a transaction's row events and counts them at its END: a record missing from
// the log (one the brokers refused while later ones were taken) stops the applier before the
// transaction commits, instead of committing the rest of it.
std::string numbered(std::string event, std::uint64_t sequence) {
  json parsed = json::parse(event);
  parsed["source"]["sequence"] = sequence;
  return parsed.dump();
}
std::string counted_end(std::uint64_t commit_lsn, std::uint64_t events) {
  json parsed = json::parse(end(commit_lsn));
  parsed["event_count"] = events;
  return parsed.dump();
}

TEST(Applier, ARowMissingFromTheLogStopsTheApplierBeforeItsTransactionCommits) {
  const std::vector<std::string> whole = {begin(100), numbered(row('c', 1, "a", 100), 0), counted_end(100, 1)};
  std::vector<std::string> log = whole;
  for (const auto& event : {begin(200), numbered(row('c', 2, "b", 200), 0), numbered(row('c', 4, "d", 200), 2),
                            counted_end(200, 3)}) {
    log.push_back(event);
  }
  const Applied run = apply_log(log, 1000);
  ASSERT_FALSE(run.outcome);
  EXPECT_NE(run.outcome.message().find("change log offset 5: source transaction 0/C8 (from offset 3) has event 2 "
                                       "where event 1 belongs"),
            std::string::npos)
      << run.outcome.message();
  EXPECT_FALSE(committed_row(run.target, 2));
  EXPECT_FALSE(committed_row(run.target, 4));

  // The last row missing: only the END's count shows it.
  log = whole;
  for (const auto& event : {begin(200), numbered(row('c', 2, "b", 200), 0), counted_end(200, 2)}) log.push_back(event);
  const Applied short_end = apply_log(log, 1000);
  ASSERT_FALSE(short_end.outcome);
  EXPECT_NE(short_end.outcome.message().find("ends after 1 events of its 2"), std::string::npos)
      << short_end.outcome.message();
  EXPECT_FALSE(committed_row(short_end.target, 2));

  // Whole transactions, numbered, apply; so does a log from before capture numbered events.
  log = whole;
  for (const auto& event : {begin(200), numbered(row('c', 2, "b", 200), 0), numbered(row('c', 3, "c", 200), 1),
                            counted_end(200, 2), begin(300), row('c', 4, "d", 300), end(300)}) {
    log.push_back(event);
  }
  const Applied complete = apply_log(log, 1000);
  ASSERT_TRUE(complete.outcome) << complete.outcome.message();
  EXPECT_EQ(complete.target.committed.size(), 4U);
}

// Each BEGIN names where the transaction before it in the log ended: a log whose offsets run
// on without a hole can still have lost transactions (brokers that came back without their
// log and were filled again), and the applier must stop there, not commit past them.
std::string chained_begin(std::uint64_t commit_lsn, std::uint64_t previous_end) {
  json parsed = json::parse(begin(commit_lsn));
  parsed["source"]["previous_end_lsn"] = previous_end;
  return parsed.dump();
}

TEST(Applier, ATransactionMissingFromAnUnbrokenRunOfOffsetsStopsTheApplier) {
  // T1 ends at 101; T2 (ended at 201) is not in the log; T3 names it as its predecessor.
  const std::vector<std::string> log = {begin(100), row('c', 1, "a", 100), end(100),
                                        chained_begin(300, 201), row('c', 3, "c", 300), end(300)};
  const Applied run = apply_log(log, 1000);
  ASSERT_FALSE(run.outcome);
  EXPECT_EQ(run.outcome.kind(), ErrorKind::kLogGap);
  EXPECT_NE(run.outcome.message().find("change log offset 3: source transaction 0/12C follows one that ended at "
                                       "0/C9, but the last transaction read ended at 0/65"),
            std::string::npos)
      << run.outcome.message();
  EXPECT_FALSE(committed_row(run.target, 3));

  // The first transaction read must follow what green holds: green at 101, T3 after 201.
  const Applied first = apply_log({chained_begin(300, 201), row('c', 3, "c", 300), end(300)}, 1000, Lsn(101));
  ASSERT_FALSE(first.outcome);
  EXPECT_EQ(first.outcome.kind(), ErrorKind::kLogGap);
  EXPECT_TRUE(first.target.committed.empty());

  // Unbroken: each follows the last one read, a transaction sent again after a capture restart
  // follows an older one (and is skipped), and the first of a capture session names none.
  const Applied whole = apply_log({begin(100), row('c', 1, "a", 100), end(100), chained_begin(200, 101),
                                   row('c', 2, "b", 200), end(200), chained_begin(200, 101), row('c', 2, "b", 200),
                                   end(200), begin(300), row('c', 3, "c", 300), end(300),
                                   chained_begin(400, 301), row('c', 4, "d", 400), end(400)},
                                  1000);
  ASSERT_TRUE(whole.outcome) << whole.outcome.message();
  EXPECT_EQ(whole.target.committed.size(), 4U);
  EXPECT_EQ(whole.target.commits.back().source_end, Lsn(401));
}

TEST(Applier, AGreenTransactionOpenLongerThanTheBatchIntervalCommitsAtTheNextEnd) {
  // A busy log (never quiet) of small transactions: without time passing they share one green
  // transaction until the log goes quiet; with each message taking 400 ms of the test's clock,
  // the interval of one second ends it at the first END after it passed.
  std::vector<std::string> log;
  for (std::uint64_t lsn = 100; lsn <= 500; lsn += 100) {
    log.push_back(begin(lsn));
    log.push_back(row('c', static_cast<int>(lsn), "x", lsn));
    log.push_back(end(lsn));
  }
  const Applied quick = apply_log(log, 1000);
  ASSERT_TRUE(quick.outcome) << quick.outcome.message();
  ASSERT_EQ(quick.target.commits.size(), 1U) << "committed only when the log went quiet";
  EXPECT_EQ(quick.target.commits[0].next_offset, 15);

  const Applied slow = apply_log(log, 1000, Lsn(), std::chrono::milliseconds(400));
  ASSERT_TRUE(slow.outcome) << slow.outcome.message();
  std::vector<std::int64_t> ends;
  for (const auto& commit : slow.target.commits) ends.push_back(commit.next_offset);
  // A green transaction's second starts at its first BEGIN: 0.8 s have passed at that
  // transaction's END, 2 s at the next one's, which commits both; the last two transactions
  // are committed when the log goes quiet.
  EXPECT_EQ(ends, (std::vector<std::int64_t>{6, 12, 15}));
  EXPECT_EQ(slow.target.committed.size(), 5U);
}

}  // namespace
}  // namespace cutover
