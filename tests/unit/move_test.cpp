// The move (switch and rollback) driven through fakes of its seams, in milliseconds: every
// step's failure, an abort, a journal that cannot be saved at each write, and a crash at each
// point between two journal writes followed by recovery. Each ends with clients let go on one
// side, the fences and slots that side needs, and a journal that says so. The server tests
// (cutover_test, the crash tests) run the same moves against PostgreSQL and PgBouncer.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cutover/orchestrator/cutover_runner.h"

namespace cutover {
namespace {

// What a real pooler and the two databases would hold.
struct World {
  bool paused = false;
  Side pointed = Side::kBlue;     // where new client connections go now
  Side configured = Side::kBlue;  // where the router's durable setting (PgBouncer's include file) says
  std::set<Side> fenced;
  std::set<Direction> slots;  // the next directions' slots made by moves
  // Clients let go onto a fenced side: their writes would fail.
  bool resumed_onto_fence = false;
  bool operator==(const World& other) const {
    return paused == other.paused && pointed == other.pointed && configured == other.configured &&
           fenced == other.fenced && slots == other.slots;
  }
};

// The calls made to fail, by name ("fence:blue", "point_at", ...), and whether the applier
// ever commits the drain marker.
struct Faults {
  std::set<std::string> failing;
  // Calls that fail once as a lost connection would, then work.
  mutable std::set<std::string> failing_once;
  bool applier_stalls = false;
  // Called where the router's setting is written and not yet in effect.
  std::function<void()> after_setting_written;
  Status fails(const std::string& call) const {
    if (failing_once.count(call)) {
      failing_once.erase(call);
      return Status::retryable("fake " + call + ": connection lost");
    }
    return failing.count(call) ? Status::error("fake " + call + " failed") : Status::ok();
  }
};

class FakeRouter : public ClientRouter {
 public:
  FakeRouter(World& world, const Faults& faults) : world_(world), faults_(faults) {}
  std::vector<Guardrail> guardrails() const override { return {{"fake_router", true, "ready", "ready"}}; }
  Status pause(std::chrono::milliseconds) override {
    if (auto failed = faults_.fails("pause"); !failed) return failed;
    world_.paused = true;
    return Status::ok();
  }
  Status resume() override {
    if (auto failed = faults_.fails("resume"); !failed) return failed;
    if (world_.paused && world_.fenced.count(world_.pointed)) world_.resumed_onto_fence = true;
    world_.paused = false;
    return Status::ok();
  }
  Status check_still_paused() const override {
    if (auto failed = faults_.fails("check_still_paused"); !failed) return failed;
    return world_.paused ? Status::ok() : Status::error("not paused");
  }
  Result<std::vector<int>> held_server_pids() const override { return std::vector<int>{101}; }
  Status point_at(Side side, const std::function<void()>& between) override {
    if (auto failed = faults_.fails(std::string("point_at:") + name_of(side)); !failed) return failed;
    world_.configured = side;
    if (faults_.after_setting_written) faults_.after_setting_written();
    if (between) between();
    // The setting is written; making it take effect (PgBouncer's RELOAD) can fail apart.
    if (auto failed = faults_.fails("reload"); !failed) return failed;
    world_.pointed = side;
    return Status::ok();
  }
  Result<std::optional<Side>> pointed_at() const override { return std::optional<Side>(world_.pointed); }
  Result<std::string> client_system_identifier() const override {
    return std::string(name_of(world_.pointed)) + "-system";
  }

 private:
  World& world_;
  const Faults& faults_;
};

class FakeDatabases : public MoveDatabases {
 public:
  FakeDatabases(World& world, const Faults& faults, PipelineStatus& pipeline)
      : world_(world), faults_(faults), pipeline_(pipeline) {}
  Status fence(Side side, const std::vector<int>&) override {
    if (auto failed = faults_.fails(std::string("fence:") + name_of(side)); !failed) return failed;
    world_.fenced.insert(side);
    return Status::ok();
  }
  Result<bool> lift_fence(Side side) override {
    if (auto failed = faults_.fails(std::string("lift_fence:") + name_of(side)); !failed) return failed;
    return world_.fenced.erase(side) > 0;
  }
  // The applier commits the marker at once, unless it stalls.
  Status write_drain_marker(Side, const std::string& id) override {
    if (auto failed = faults_.fails("write_drain_marker"); !failed) return failed;
    if (!faults_.applier_stalls) {
      std::lock_guard lock(pipeline_.apply.mutex);
      pipeline_.apply.last_message = "cutover:" + id;
      pipeline_.apply.message_applied.notify_all();
    }
    return Status::ok();
  }
  Result<std::size_t> sync_sequences(Direction) override {
    if (auto failed = faults_.fails("sync_sequences"); !failed) return failed;
    return std::size_t{2};
  }
  Result<std::string> start_direction(Direction next) override {
    if (auto failed = faults_.fails("start_direction"); !failed) return failed;
    world_.slots.insert(next);
    return std::string("slot at 0/1");
  }
  Status drop_direction_slot(Direction next) override {
    world_.slots.erase(next);
    return Status::ok();
  }
  Result<std::string> system_identifier(Side side) override { return std::string(name_of(side)) + "-system"; }
  Result<std::string> check_direction_ready(Direction) override { return std::string("ready"); }
  Result<std::string> check_no_long_writers(Side, std::chrono::milliseconds) override {
    return std::string("none");
  }

 private:
  World& world_;
  const Faults& faults_;
  PipelineStatus& pipeline_;
};

class MemoryJournalStore : public JournalStore {
 public:
  explicit MemoryJournalStore(CutoverJournal kept = {}) : kept_(std::move(kept)) {}
  Result<CutoverJournal> load() const override { return kept_; }
  Status save(const CutoverJournal& journal) override {
    ++saves;
    if (before_save) before_save(kept_);
    if (saves == failing_save) return Status::error("fake journal: disk full");
    kept_ = journal;
    if (after_save) after_save(kept_);
    return Status::ok();
  }
  Status check_writable() override { return Status::ok(); }
  std::string where() const override { return "memory"; }
  const CutoverJournal& kept() const { return kept_; }

  int saves = 0;
  int failing_save = 0;  // the save that fails; 0: none
  // Called with what is kept so far, before and after each save.
  std::function<void(const CutoverJournal&)> before_save;
  std::function<void(const CutoverJournal&)> after_save;

 private:
  CutoverJournal kept_;
};

class FakeVerifications : public Verifications {
 public:
  Result<std::string> start() override { return std::string("verification_1"); }
  std::optional<VerificationReport> last_finished() const override {
    VerificationReport report;
    report.id = "verification_1";
    report.state = "clean";
    return report;
  }
  bool running() const override { return false; }
};

// Where clients rest before a switch (blue) or a rollback (green after a switch). Green holds
// a fence from an earlier rollback, so that the switch has one to lift and an undo one to
// put back.
World at_rest_before(Move move) {
  World world;
  if (move == Move::kSwitch) {
    world.fenced = {Side::kGreen};
  } else {
    world.pointed = Side::kGreen;
    world.configured = Side::kGreen;
    world.fenced = {Side::kBlue};
    world.slots = {Direction::kReverse};
  }
  return world;
}

CutoverJournal journal_at_rest_before(Move move) {
  CutoverJournal journal;
  if (move == Move::kRollback) {
    journal.state = MoveState::kSwitched;
    journal.side = Side::kGreen;
    journal.pipeline = Direction::kReverse;
    journal.cutover_id = "cutover_0";
    journal.outcome = Outcome::kSwitched;
  }
  return journal;
}

// One cutover run's runner on fakes.
class Harness {
 public:
  Harness(World world, CutoverJournal journal, Direction running)
      : world_(std::move(world)), store_(new MemoryJournalStore(std::move(journal))) {
    plan_.name = "t";
    plan_.green = DatabaseEndpoint{};
    plan_.cutover.fence_blue = true;
    plan_.cutover.drain_timeout = std::chrono::milliseconds(300);
    pipeline_.phase = Phase::kStreaming;
    pipeline_.running = running;
    MoveSeams seams;
    seams.router = std::make_unique<FakeRouter>(world_, faults_);
    seams.databases = std::make_unique<FakeDatabases>(world_, faults_, pipeline_);
    seams.journal = std::unique_ptr<JournalStore>(store_);
    runner_ = std::make_unique<CutoverRunner>(plan_, reverse_, pipeline_, verifications_, std::move(seams));
  }

  // Starts `move`, waits for its end; the journal kept.
  const CutoverJournal& move(Move move) {
    if (auto recovered = runner_->recover(); !recovered) ADD_FAILURE() << recovered.message();
    auto started = runner_->start(move, {});
    EXPECT_TRUE(started) << started.status().message();
    runner_->wait_idle();
    return store_->kept();
  }

  World world_;
  Faults faults_;
  MemoryJournalStore* store_;  // owned by the runner
  Plan plan_;
  Result<Plan> reverse_ = Plan{};
  PipelineStatus pipeline_;
  FakeVerifications verifications_;
  std::unique_ptr<CutoverRunner> runner_;
};

// Clients let go on one side, with what that side needs: the move done, or nothing of it left.
void expect_one_side(const World& world, const CutoverJournal& journal, const PipelineStatus& pipeline,
                     Move move, const std::string& context) {
  SCOPED_TRACE(context);
  EXPECT_FALSE(world.paused) << "clients left paused";
  EXPECT_FALSE(world.resumed_onto_fence) << "clients let go onto a fenced side";
  EXPECT_EQ(journal.side, world.pointed) << "the journal says clients are elsewhere";
  EXPECT_EQ(world.configured, world.pointed) << "the router's setting names the other side: a later reload moves clients";
  const bool moved = world.pointed == (move == Move::kSwitch ? Side::kGreen : Side::kBlue);
  if (moved) {
    EXPECT_EQ(journal.outcome, move == Move::kSwitch ? Outcome::kSwitched : Outcome::kRolledBack);
    EXPECT_EQ(world.fenced, std::set<Side>{other_side(world.pointed)}) << "the side left must be fenced";
    const Direction next = move == Move::kSwitch ? Direction::kReverse : Direction::kForward;
    EXPECT_TRUE(world.slots.count(next)) << "the next direction has no slot";
    EXPECT_EQ(pipeline.direction.wanted(), next);
  } else {
    EXPECT_EQ(world, at_rest_before(move)) << "the undo left something behind";
    EXPECT_EQ(journal.outcome, Outcome::kAborted);
  }
  EXPECT_EQ(journal.state, world.pointed == Side::kGreen ? MoveState::kSwitched : MoveState::kStreaming);
}

Direction carrying(Move move) { return move == Move::kSwitch ? Direction::kForward : Direction::kReverse; }

class MoveTest : public testing::TestWithParam<Move> {};

TEST_P(MoveTest, RunsEveryStepInOrderAndEndsOnTheOtherSide) {
  const Move move = GetParam();
  Harness harness(at_rest_before(move), journal_at_rest_before(move), carrying(move));
  const CutoverJournal& journal = harness.move(move);
  expect_one_side(harness.world_, journal, harness.pipeline_, move, "a clean move");
  EXPECT_NE(harness.world_.pointed, at_rest_before(move).pointed);
  std::vector<std::string> done;
  for (const auto& step : journal.steps) {
    if (step.status == StepStatus::kDone) done.push_back(name_of(step.name));
  }
  const std::string next = move == Move::kSwitch ? "reverse" : "forward";
  std::vector<std::string> expected = {"guardrails", next, "freeze", "fence", "drain", "sequences", "unfence",
                                       "switch", "resume"};
  if (move == Move::kSwitch && harness.plan_.verify.before_switch_full) {
    expected.insert(expected.begin() + 1, "verification");
  }
  EXPECT_EQ(done, expected);
}

TEST_P(MoveTest, EveryStepsFailureLeavesClientsResumedWhereTheyWereWithTheReason) {
  const Move move = GetParam();
  const std::string from = name_of(at_rest_before(move).pointed);
  const std::string to = name_of(other_side(at_rest_before(move).pointed));
  for (const std::string& fault : {std::string("pause"), "fence:" + from, std::string("write_drain_marker"),
                                   std::string("applier stalls"), std::string("sync_sequences"),
                                   "lift_fence:" + to, std::string("start_direction"),
                                   std::string("check_still_paused"), "point_at:" + to, std::string("reload"),
                                   std::string("resume")}) {
    Harness harness(at_rest_before(move), journal_at_rest_before(move), carrying(move));
    if (fault == "applier stalls") {
      harness.faults_.applier_stalls = true;
    } else {
      harness.faults_.failing = {fault};
    }
    // The fault is passing: it fails the step once, and the undo's own RESUME, RELOAD or
    // fence works.
    harness.store_->after_save = [&harness](const CutoverJournal& kept) {
      if (!kept.steps.empty() && kept.steps.back().status == StepStatus::kFailed) harness.faults_.failing.clear();
    };
    const CutoverJournal& journal = harness.move(move);
    expect_one_side(harness.world_, journal, harness.pipeline_, move, "failing: " + fault);
    EXPECT_EQ(harness.world_.pointed, at_rest_before(move).pointed) << fault;
    EXPECT_NE(journal.reason.find(fault == "applier stalls" ? "did not commit the marker" : "fake " + fault),
              std::string::npos)
        << fault << ": " << journal.reason;
  }
}

TEST_P(MoveTest, AJournalThatCannotBeSavedAtAnyWriteNeverStrandsClients) {
  const Move move = GetParam();
  int writes = 0;
  {
    Harness clean(at_rest_before(move), journal_at_rest_before(move), carrying(move));
    clean.move(move);
    writes = clean.store_->saves;
  }
  ASSERT_GT(writes, 15);
  for (int failing = 1; failing <= writes; ++failing) {
    Harness harness(at_rest_before(move), journal_at_rest_before(move), carrying(move));
    harness.store_->failing_save = failing;
    harness.runner_->recover();
    if (!harness.runner_->start(move, {})) continue;  // the journal of the start itself failed
    harness.runner_->wait_idle();
    // What the runner shows (the journal in memory), since the kept one missed a write.
    const auto shown = CutoverJournal::from_json(harness.runner_->status_json());
    ASSERT_TRUE(shown);
    expect_one_side(harness.world_, *shown, harness.pipeline_, move, "save " + std::to_string(failing) + " fails");
  }
}

// A crash right before and right after each journal write: the world as it was then, the
// journal as it was kept. A new runner recovers from them.
TEST_P(MoveTest, ACrashBetweenAnyTwoJournalWritesIsRecoveredToOneSide) {
  const Move move = GetParam();
  struct Crash {
    World world;
    CutoverJournal kept;
    std::string when;
  };
  std::vector<Crash> crashes;
  {
    Harness clean(at_rest_before(move), journal_at_rest_before(move), carrying(move));
    clean.store_->before_save = [&](const CutoverJournal& kept) {
      crashes.push_back({clean.world_, kept, "before save " + std::to_string(clean.store_->saves)});
    };
    clean.store_->after_save = [&](const CutoverJournal& kept) {
      crashes.push_back({clean.world_, kept, "after save " + std::to_string(clean.store_->saves)});
    };
    clean.faults_.after_setting_written = [&] {
      crashes.push_back({clean.world_, clean.store_->kept(), "between the router's setting and its reload"});
    };
    clean.move(move);
  }
  int finished = 0;
  int undone = 0;
  for (const auto& crash : crashes) {
    Harness restarted(crash.world, crash.kept, carrying(move));
    const Status recovered = restarted.runner_->recover();
    ASSERT_TRUE(recovered) << crash.when << ": " << recovered.message();
    const CutoverJournal& journal = restarted.store_->kept();
    if (journal.cutover_id == journal_at_rest_before(move).cutover_id) continue;  // before the move began
    expect_one_side(restarted.world_, journal, restarted.pipeline_, move, crash.when);
    ++(journal.outcome == Outcome::kAborted ? undone : finished);
  }
  // Both ends are reached: crashes before the switch are undone, those after it finish.
  EXPECT_GT(undone, 10);
  EXPECT_GT(finished, 2);
}

TEST_P(MoveTest, AnAbortBeforeTheSwitchIsUndone) {
  const Move move = GetParam();
  Harness harness(at_rest_before(move), journal_at_rest_before(move), carrying(move));
  harness.plan_.cutover.drain_timeout = std::chrono::seconds(30);
  harness.faults_.applier_stalls = true;
  ASSERT_TRUE(harness.runner_->recover());
  ASSERT_TRUE(harness.runner_->start(move, {}));
  while (harness.runner_->state().empty() || harness.runner_->state() == "freezing" ||
         harness.runner_->state() == "switched") {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(harness.runner_->abort());
  harness.runner_->wait_idle();
  const CutoverJournal& journal = harness.store_->kept();
  expect_one_side(harness.world_, journal, harness.pipeline_, move, "aborted");
  EXPECT_EQ(journal.reason, "aborted by request");
}

TEST_P(MoveTest, AnUndoThatFailsForAPassingReasonIsTriedAgain) {
  // The drain fails, and the pooler is unreachable for a moment (restarting) when the undo
  // resumes clients: tried again, the undo ends with clients let go, not "undo_failed".
  const Move move = GetParam();
  Harness harness(at_rest_before(move), journal_at_rest_before(move), carrying(move));
  harness.faults_.failing = {"write_drain_marker"};
  harness.faults_.failing_once = {"resume"};
  const CutoverJournal& journal = harness.move(move);
  expect_one_side(harness.world_, journal, harness.pipeline_, move, "resume lost once in the undo");
  EXPECT_TRUE(harness.faults_.failing_once.empty()) << "the undo never met the passing failure";
}

INSTANTIATE_TEST_SUITE_P(Moves, MoveTest, testing::Values(Move::kSwitch, Move::kRollback),
                         [](const testing::TestParamInfo<Move>& param) { return std::string(name_of(param.param)); });

TEST(AbortLatch, AnAbortIsRefusedOnceTheMoveCommitsAndACommitAfterAnAbortFails) {
  AbortLatch latch;
  ASSERT_TRUE(latch.commit());
  EXPECT_FALSE(latch.request());
  EXPECT_FALSE(latch.requested());
  latch.reset();
  ASSERT_TRUE(latch.request());
  EXPECT_FALSE(latch.commit());
}

}  // namespace
}  // namespace cutover
