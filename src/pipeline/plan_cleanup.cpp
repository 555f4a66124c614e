#include "cutover/pipeline/plan_cleanup.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>

#include "cutover/apply/target_writer.h"
#include "cutover/capture/slot_manager.h"
#include "cutover/common/database_errors.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/control/http_client.h"
#include "cutover/orchestrator/journal.h"
#include "cutover/orchestrator/write_fence.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/transport/topic_admin.h"

namespace cutover {

namespace {

// The plan as the reverse direction names its objects: its slot and publication on green,
// its origin and position row on blue, its topic.
Plan reverse_names(const Plan& plan) {
  Plan reverse = plan;
  reverse.name = plan.name + kReversePlanSuffix;
  reverse.direction = Direction::kReverse;
  return reverse;
}

// Runs `statement` in a session of `dsn` that may write on a fenced side.
Status run_on(const std::string& dsn, const std::string& side, const std::string& what,
              const std::function<void(pqxx::nontransaction&)>& statement) {
  auto connection = open_postgres(dsn, side);
  if (!connection) return connection.status();
  try {
    allow_writes(**connection);
    pqxx::nontransaction query(**connection);
    statement(query);
    return Status::ok();
  } catch (const std::exception& error) {
    return status_of(error, side + ": " + what);
  }
}

// The slot and publication of the direction whose source this side is.
void look_at_capture_objects(pqxx::transaction_base& query, const std::string& side, const std::string& dsn,
                             const Plan& captured, PlanHoldings& found) {
  const std::string slot = captured.slot_name();
  const auto slots = query.exec_params(
      "SELECT active_pid, database = current_database() FROM pg_replication_slots WHERE slot_name = $1", slot);
  if (!slots.empty() && !slots[0][1].as<bool>(false)) {
    found.left.push_back(side + ": replication slot " + slot + " belongs to another database of the cluster: left as it is");
  } else if (!slots.empty()) {
    if (!slots[0][0].is_null()) {
      found.in_use.push_back(side + ": replication slot " + slot + " is in use by process " +
                             slots[0][0].as<std::string>() + " (a cutover run or capture of this plan): stop it first");
    }
    found.holdings.push_back({side, "replication slot " + slot, [dsn, side, slot] {
                                return run_on(dsn, side, "dropping replication slot " + slot, [&](auto& session) {
                                  session.exec_params("SELECT pg_drop_replication_slot($1)", slot);
                                });
                              }});
  }
  const std::string publication = captured.publication_name();
  const auto publications = query.exec_params(
      "SELECT coalesce(obj_description(oid, 'pg_publication'), '') FROM pg_publication WHERE pubname = $1",
      publication);
  if (publications.empty()) return;
  if (publications[0][0].as<std::string>() != publication_comment(captured)) {
    found.left.push_back(side + ": publication " + publication +
                         " was not made by cutover (or by a cutover before 2026-12, which did not mark it): left as "
                         "it is; DROP PUBLICATION " + quote_identifier(publication) + " once nothing uses it");
    return;
  }
  found.holdings.push_back({side, "publication " + publication, [dsn, side, publication] {
                              return run_on(dsn, side, "dropping publication " + publication, [&](auto& session) {
                                session.exec("DROP PUBLICATION " + quote_identifier(publication));
                              });
                            }});
}

// The record of the direction whose target this side is: its origin and position row.
void look_at_apply_record(pqxx::transaction_base& query, const std::string& side, const std::string& dsn,
                          const Plan& applied, PlanHoldings& found) {
  const std::string origin = applied.origin_name();
  const bool origin_exists =
      !query.exec_params("SELECT 1 FROM pg_replication_origin WHERE roname = $1", origin).empty();
  bool row_exists = false;
  if (query.exec("SELECT to_regclass('cutover.apply_position') IS NOT NULL")[0][0].as<bool>()) {
    for (const auto& row : query.exec("SELECT plan FROM cutover.apply_position")) {
      const std::string recorded = row[0].as<std::string>();
      if (recorded == applied.name) {
        row_exists = true;
      } else if (object_name_of_plan(recorded) == origin) {
        found.in_use.push_back(side + ": replication origin " + origin + " is recorded for plan " + recorded +
                               ", not " + applied.name + " (their objects share a name): clean up that plan instead");
      }
    }
  }
  if (!origin_exists && !row_exists) return;
  std::string description = "the record of what was applied here:";
  if (origin_exists) description += " replication origin " + origin;
  if (row_exists) description += std::string(origin_exists ? "," : "") + " its row of cutover.apply_position";
  description += " (and the cutover schema once nothing else is in it)";
  found.holdings.push_back({side, description, [dsn, side, applied] {
                              auto connection = open_postgres(dsn, side);
                              if (!connection) return connection.status();
                              try {
                                allow_writes(**connection);
                              } catch (const std::exception& error) {
                                return status_of(error, side);
                              }
                              // An applier holding the origin makes this fail, and leaves all of it.
                              return forget_plan(**connection, applied);
                            }});
}

// Lifts a fence only where the journal shows this plan set it: a database made read-only by
// its DBA (or by another plan) is theirs to open.
void look_at_fence(pqxx::transaction_base& query, const std::string& side, const std::string& dsn,
                   const std::optional<bool>& fenced_by_plan, PlanHoldings& found) {
  if (!is_fenced(query)) return;
  if (fenced_by_plan.value_or(false)) {
    found.holdings.push_back({side, "write fence (default_transaction_read_only on the database): writes are allowed again",
                              [dsn, side] { return lift_fence(dsn, side).status(); }});
    return;
  }
  const std::string database = query.exec("SELECT current_database()")[0][0].c_str();
  found.left.push_back(side + ": database " + database + " is read-only (default_transaction_read_only = on), " +
                       (fenced_by_plan ? "and this plan's journal does not show that it set it"
                                       : "and no journal of this plan says who set it") +
                       ": left as it is; ALTER DATABASE " + quote_identifier(database) +
                       " RESET default_transaction_read_only once you know why it is there");
}

// What the plan holds on one side, in the order cleanup removes it.
struct SideHoldings {
  std::vector<Holding> records;  // what was applied here: removed first
  std::vector<Holding> others;
};

SideHoldings look_at_side(const std::string& side, const std::string& dsn, const Plan& captured,
                          const Plan& applied, const std::optional<bool>& fenced_by_plan, PlanHoldings& found) {
  SideHoldings side_holdings;
  auto connection = open_postgres(dsn, side);
  if (!connection) {
    found.unreachable.push_back(connection.status().message());
    return side_holdings;
  }
  PlanHoldings side_found;
  try {
    pqxx::read_transaction query(**connection);
    look_at_apply_record(query, side, dsn, applied, side_found);
    side_holdings.records = std::exchange(side_found.holdings, {});
    look_at_capture_objects(query, side, dsn, captured, side_found);
    look_at_fence(query, side, dsn, fenced_by_plan, side_found);
    side_holdings.others = std::move(side_found.holdings);
  } catch (const std::exception& error) {
    found.unreachable.push_back(status_of(error, side + ": looking at what the plan holds").message());
    return {};
  }
  found.in_use.insert(found.in_use.end(), side_found.in_use.begin(), side_found.in_use.end());
  found.left.insert(found.left.end(), side_found.left.begin(), side_found.left.end());
  return side_holdings;
}

void look_at_topics(const Plan& plan, const Plan& reverse, PlanHoldings& found) {
  if (plan.kafka.is_embedded()) return;  // its log lived and died with cutover run
  auto topics = existing_topics(plan.kafka.brokers, plan.kafka.properties,
                                {plan.changes_topic(), reverse.changes_topic(), plan.debezium_position_topic(),
                                 reverse.debezium_position_topic()},
                                kBrokerTimeout);
  if (!topics) {
    found.unreachable.push_back("kafka: " + topics.status().message());
    return;
  }
  for (const auto& topic : *topics) {
    found.holdings.push_back({"kafka", "topic " + topic, [plan, topic] {
                                return delete_topic(plan.kafka.brokers, plan.kafka.properties, topic, kBrokerTimeout);
                              }});
  }
  // The Debezium-form topics are for consumers cutover does not know of, which may read them
  // after the move, and may be a team's own topics it continued: listed, never deleted.
  std::vector<std::string> stream_topics;
  for (const Plan* directed : {&plan, &reverse}) {
    const auto of_direction = topics_of(*directed);
    for (auto topic = of_direction.begin() + 1; topic != of_direction.end(); ++topic) {  // past the change log
      if (*topic == directed->debezium_position_topic()) continue;  // cutover's own, deleted above
      if (std::find(stream_topics.begin(), stream_topics.end(), *topic) == stream_topics.end()) {
        stream_topics.push_back(*topic);
      }
    }
  }
  if (stream_topics.empty()) return;
  auto streamed = existing_topics(plan.kafka.brokers, plan.kafka.properties, stream_topics, kBrokerTimeout);
  if (!streamed) return;
  for (const auto& topic : *streamed) {
    found.left.push_back("kafka: topic " + topic + " of the Debezium-form stream: left for its consumers; "
                         "delete it with your Kafka tools once none reads it");
  }
}

void look_at_control(const Plan& plan, PlanHoldings& found) {
  const std::string url = "http://" + plan.control.listen;
  auto answer = http_call(url, "GET", "/api/v1/status", "", "", std::chrono::seconds(2));
  if (!answer || answer->status != 200) return;
  const auto status = nlohmann::json::parse(answer->body, nullptr, false);
  if (status.is_object() && status.value("plan", "") == plan.name) {
    found.in_use.push_back("a cutover run of plan " + plan.name + " answers at " + url +
                           ": stop it first (it holds the slot, the origin and the topics)");
  }
}

// The journal, when there is one that reads; a problem with it goes into `found`.
std::optional<CutoverJournal> look_at_state_directory(const Plan& plan, PlanHoldings& found) {
  FileJournalStore store(plan.state_dir);
  if (!std::filesystem::exists(store.where())) return std::nullopt;
  auto journal = store.load();
  if (!journal) {
    found.in_use.push_back(journal.status().message() + ": look at it before removing it");
    return std::nullopt;
  }
  const MoveState state = journal->state;
  if (state != MoveState::kStreaming && state != MoveState::kSwitched) {
    found.in_use.push_back("the journal " + store.where() + " shows a move in the middle (" + name_of(state) +
                           "): start cutover run, which finishes or undoes it, then clean up");
  }
  const std::string path = store.where();
  const std::string directory = plan.state_dir;
  found.holdings.push_back({"local", "the journal " + path + " (clients were last sent to " +
                                         name_of(journal->side) + ")",
                            [path, directory] {
                              std::error_code error;
                              std::filesystem::remove(path, error);
                              if (error) return Status::error("removing " + path + ": " + error.message());
                              std::filesystem::remove(directory, error);  // only when nothing else is in it
                              return Status::ok();
                            }});
  return std::move(journal.value());
}

}  // namespace

PlanHoldings find_plan_holdings(const Plan& plan, bool ask_control) {
  PlanHoldings found;
  const Plan reverse = reverse_names(plan);
  if (ask_control) look_at_control(plan, found);
  // The journal is removed last, but read first: it says which fences are the plan's.
  PlanHoldings journal_found;
  const auto journal = look_at_state_directory(plan, journal_found);
  const auto fenced_by_plan = [&journal](Side side) {
    return journal ? journal->fenced_by_plan(side) : std::nullopt;
  };
  SideHoldings blue = look_at_side("blue", plan.blue.dsn, plan, reverse, fenced_by_plan(Side::kBlue), found);
  SideHoldings green;
  if (plan.green) green = look_at_side("green", plan.green->dsn, reverse, plan, fenced_by_plan(Side::kGreen), found);
  // Records first: an applier still holding its origin makes that removal fail before
  // anything else is gone.
  for (auto* holdings : {&blue.records, &green.records, &blue.others, &green.others}) {
    found.holdings.insert(found.holdings.end(), holdings->begin(), holdings->end());
  }
  look_at_topics(plan, reverse, found);
  found.in_use.insert(found.in_use.end(), journal_found.in_use.begin(), journal_found.in_use.end());
  found.holdings.insert(found.holdings.end(), journal_found.holdings.begin(), journal_found.holdings.end());
  return found;
}

}  // namespace cutover
