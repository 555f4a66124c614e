#include "cutover/apply/applier.h"

#include <algorithm>
#include <set>

#include "cutover/common/crash_point.h"
#include "cutover/common/logging.h"

namespace cutover {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

Applier::Applier(const ApplySettings& settings, const std::vector<TableTransform>& transforms,
                 ChangeLogSource& log, ChangeWriter& writer, AppliedPosition start,
                 ApplyCounters& counters, DiscardedRanges& discarded,
                 const std::atomic<bool>& stop, RowSource& current_rows, ApplyHold& hold, SteadyNow now)
    : settings_(settings),
      log_(log),
      writer_(writer),
      counters_(counters),
      discarded_(discarded),
      stop_(stop),
      current_rows_(current_rows),
      hold_(hold),
      now_(std::move(now)),
      applied_(start.source_lsn),
      green_transaction_started_(now_()) {
  for (const auto& transform : transforms) {
    SourceTable& source = sources_[transform.source.text()];
    if (!source.batch) {
      source.columns = transform.source_columns;
      source.batch = std::make_unique<SourceBatch>(transform.source_key);
      source.oid = transform.source_oid;
    }
    for (const auto& column : transform.columns_read()) source.reads[column.name] = column.type_oid;
    source.targets.push_back(&transform);
  }
  counters_.applied_lsn = applied_.value();
}

Status Applier::run() {
  while (!stop_.load()) {
    const bool waiting_to_commit = completed_ > 0;
    auto message = log_.next(waiting_to_commit ? std::chrono::milliseconds(10)
                                               : std::chrono::milliseconds(100));
    if (!message) return message.status();
    if (!message->has_value()) {
      // The log is quiet: commit what is complete rather than wait for more.
      if (waiting_to_commit && !in_transaction_) {
        if (auto status = commit(); !status) return status;
      }
      counters_.caught_up = !in_transaction_ && completed_ == 0;
      continue;
    }
    counters_.caught_up = false;
    const std::int64_t offset = (*message)->offset;
    counters_.consumed_bytes += (*message)->value.size();
    if (uncommitted_from_ < 0) uncommitted_from_ = offset;
    if (discarded(offset)) continue;
    auto event = parse_change_event((*message)->value, offset);
    if (!event) return event.status();
    if (auto status = handle(*event); !status) return status;
  }
  // Stopping: complete source transactions commit; if one is open, nothing of this green
  // transaction may commit, and what it held is read again on the next start.
  if (completed_ > 0 && !in_transaction_) return commit();
  writer_.rollback();
  return Status::ok();
}

bool Applier::discarded(std::int64_t offset) const {
  for (const auto& [first, last] : discarded_) {
    if (offset >= first && offset < last) return true;
  }
  return false;
}

Status Applier::handle(const ChangeEvent& event) {
  switch (event.kind) {
    case ChangeEvent::Kind::kBegin:
      return on_begin(event);
    case ChangeEvent::Kind::kEnd:
      return on_end(event);
    case ChangeEvent::Kind::kRow:
      return on_row(event);
    case ChangeEvent::Kind::kTruncate:
      return on_truncate(event);
    case ChangeEvent::Kind::kSchema:
      return on_schema(event);
    case ChangeEvent::Kind::kMessage:
      if (!skipping_) pending_message_ = event.message_prefix + ":" + event.message_content;
      return Status::ok();
  }
  return Status::ok();
}

Status Applier::on_begin(const ChangeEvent& event) {
  if (in_transaction_) return discard_cut_off_transaction(event.offset);
  if (auto chained = check_chain(event); !chained) return chained;
  if (halt_offset_ >= 0 && event.offset >= halt_offset_) {
    if (completed_ > 0) {
      if (auto status = commit(); !status) return status;
    }
    return halted();
  }
  // A transaction that commits below the applied position was applied already.
  skipping_ = event.commit_lsn < applied_ || (completed_ > 0 && event.commit_lsn < completed_end_);
  if (!skipping_ && hold_.must_hold_before(event.commit_lsn)) {
    // Green must show everything before the hold and nothing after it.
    if (completed_ > 0) {
      if (auto status = commit(); !status) return status;
    }
    hold_.hold(applied_, event.commit_lsn, [this] { return stop_.load(); });
  }
  in_transaction_ = true;
  transaction_begin_offset_ = event.offset;
  events_in_transaction_ = 0;
  if (completed_ == 0 && !skipping_ && rows_in_green_transaction_ == 0) {
    green_transaction_started_ = now_();
  }
  return Status::ok();
}

Status Applier::on_end(const ChangeEvent& event) {
  if (!in_transaction_) {
    spdlog::warn("change log offset {}: transaction END without BEGIN; ignored", event.offset);
    return Status::ok();
  }
  if (auto numbered = check_numbering(event); !numbered) return numbered;
  in_transaction_ = false;
  last_end_read_ = event.end_lsn;
  if (skipping_) {
    skipping_ = false;
    pending_message_.clear();
    return Status::ok();
  }
  completed_++;
  completed_end_ = event.end_lsn;
  completed_ts_ms_ = event.commit_ts_ms;
  completed_next_offset_ = event.offset + 1;
  if (!pending_message_.empty()) completed_message_ = std::move(pending_message_);
  pending_message_.clear();
  if (bounds_reached()) return commit();
  return Status::ok();
}

Status Applier::check_numbering(const ChangeEvent& event) {
  const bool end = event.kind == ChangeEvent::Kind::kEnd;
  const std::optional<std::uint64_t> numbered = end ? event.event_count : event.sequence;
  const std::uint64_t expected = events_in_transaction_;
  if (!end) ++events_in_transaction_;
  if (skipping_ || !numbered || *numbered == expected) return Status::ok();
  // Fatal, not retried: the transaction's rows are not all in the log, and reading it again
  // would find the same hole. Nothing of it is committed.
  return Status::error(
      "change log offset " + std::to_string(event.offset) + ": source transaction " +
      event.commit_lsn.to_string() + " (from offset " + std::to_string(transaction_begin_offset_) + ") " +
      (end ? "ends after " + std::to_string(expected) + " events of its " + std::to_string(*numbered)
           : "has event " + std::to_string(*numbered) + " where event " + std::to_string(expected) + " belongs") +
      ": the log lost changes between capture and the applier (a record the brokers refused?). Nothing of this "
      "transaction was committed to green. Find the cause in capture's log and fix it; with slot_advance: "
      "on_apply, cutover run sends the transaction again from blue's slot when it starts again");
}

Status Applier::check_chain(const ChangeEvent& event) const {
  // Before any END of this session, the predecessor must be what green holds already.
  const Lsn last = last_end_read_.value_or(applied_);
  if (!event.previous_end_lsn || *event.previous_end_lsn <= last) return Status::ok();
  return Status::of(
      ErrorKind::kLogGap,
      "change log offset " + std::to_string(event.offset) + ": source transaction " +
          event.commit_lsn.to_string() + " follows one that ended at " + event.previous_end_lsn->to_string() +
          ", but the last transaction read ended at " + last.to_string() +
          ": the log does not hold the transactions between, although its offsets run on without a hole "
          "(the brokers lost part of the log: restarted without their data, the topic deleted and made "
          "again, or another cluster). Nothing after " + last.to_string() + " was committed to " +
          "the target");
}

bool Applier::bounds_reached() const {
  return rows_in_green_transaction_ + rows_in_batches_ >= static_cast<std::size_t>(settings_.batch_rows) ||
         bytes_in_green_transaction_ + bytes_in_batches_ >= static_cast<std::size_t>(settings_.batch_bytes) ||
         now_() - green_transaction_started_ >= settings_.batch_interval;
}

Status Applier::on_row(const ChangeEvent& event) {
  if (!in_transaction_) {
    spdlog::warn("change log offset {}: row event outside a transaction; ignored", event.offset);
    return Status::ok();
  }
  if (auto numbered = check_numbering(event); !numbered) return numbered;
  if (skipping_) return Status::ok();
  if (auto described = apply_deferred_schema(event.table); !described || !in_transaction_) return described;
  auto found = sources_.find(event.table.text());
  if (found == sources_.end()) return Status::ok();  // not a table of this plan
  // A row without a column the plan reads would be written with NULL there: a schema change
  // the stream did not announce (or announced before this run began) must stop us instead.
  if (event.after) {
    for (const auto& [column, type_oid] : found->second.reads) {
      if (event.after->has(column) ||
          std::find(event.unchanged_toast.begin(), event.unchanged_toast.end(), column) != event.unchanged_toast.end()) {
        continue;
      }
      return halt_before_current_transaction(
          "a row of " + event.table.text() + " (change log offset " + std::to_string(event.offset) +
          ") has no column " + column + ", which the plan reads: the column was dropped or renamed on " +
          "the source. Amend the plan (map the new name, or stop reading it) and start cutover run again, "
          "or rebuild green");
    }
  }
  found->second.batch->add(event);
  rows_in_batches_++;
  bytes_in_batches_ += event.bytes;
  uncommitted_rows_by_source_[found->first]++;
  // A big source transaction streams through: batches go to green before its END, into
  // the same green transaction.
  if (rows_in_batches_ >= static_cast<std::size_t>(settings_.batch_rows) ||
      bytes_in_batches_ >= static_cast<std::size_t>(settings_.batch_bytes)) {
    return flush();
  }
  return Status::ok();
}

Status Applier::on_truncate(const ChangeEvent& event) {
  if (!in_transaction_) return Status::ok();
  if (auto numbered = check_numbering(event); !numbered) return numbered;
  if (skipping_) return Status::ok();
  if (auto described = apply_deferred_schema(event.table); !described || !in_transaction_) return described;
  auto found = sources_.find(event.table.text());
  if (found == sources_.end()) return Status::ok();
  if (auto status = flush(); !status) return status;
  for (const TableTransform* target : found->second.targets) {
    if (!target->truncate_target_on_truncate) {
      return Status::error(
          "TRUNCATE of " + event.table.text() + " (change log offset " +
          std::to_string(event.offset) + ") refused: " + target->target.text() +
          (target->merged ? " also holds rows of other source tables" : " is set to refuse") +
          "; set on_truncate: truncate_target on this table in the plan to empty the whole "
          "target, then restart");
    }
    if (auto status = writer_.truncate(*target); !status) return status;
  }
  return Status::ok();
}

Status Applier::apply_deferred_schema(const QualifiedName& table) {
  const auto deferred = deferred_schemas_.find(table.text());
  if (deferred == deferred_schemas_.end()) return Status::ok();
  const ChangeEvent schema = std::move(deferred->second);
  deferred_schemas_.erase(deferred);
  return on_schema(schema);
}

Status Applier::on_schema(const ChangeEvent& event) {
  // A transaction green already holds describes its tables as they were then: after a restart
  // that reads the log again from blue's slot, that may be the old name of a table renamed
  // since, which the plan no longer names. It is judged only if a change green does not hold
  // follows under it (pgoutput describes a table once per session, and again after every DDL
  // on it): then its rows are in that shape, and a shape the plan cannot map still halts.
  if (in_transaction_ && skipping_) {
    deferred_schemas_.insert_or_assign(event.table.text(), event);
    return Status::ok();
  }
  for (auto deferred = deferred_schemas_.begin(); deferred != deferred_schemas_.end();) {
    const bool superseded = deferred->first == event.table.text() ||
                            (event.relation_oid != 0 && deferred->second.relation_oid == event.relation_oid);
    deferred = superseded ? deferred_schemas_.erase(deferred) : std::next(deferred);
  }
  auto found = sources_.find(event.table.text());
  SourceTable* source = found == sources_.end() ? nullptr : &found->second;
  if (const std::string unmappable = unmappable_schema_change(event, source); !unmappable.empty()) {
    return halt_before_current_transaction(unmappable);
  }
  if (!source) return Status::ok();
  // Rows collected so far have the old columns: they go to green first.
  if (auto status = flush(); !status) return status;
  // A column of the same type as when the plan was resolved is read as blue's catalog named
  // it; the change log's name of a built-in type capture does not know is only "oid:N".
  std::vector<SourceColumn> columns;
  for (const auto& column : event.schema_columns) {
    const SourceColumn* resolved = nullptr;
    for (const auto& candidate : source->targets.front()->source_columns) {
      if (candidate.name == column.name && (column.type_oid == 0 || candidate.type_oid == column.type_oid)) {
        resolved = &candidate;
      }
    }
    columns.push_back(resolved ? *resolved : column);
  }
  source->columns = std::move(columns);
  return Status::ok();
}

// pgoutput describes a table again before its first change after a DDL (and once per
// connection). Compared with what the plan was resolved against: a table of the plan under a
// new name (RENAME), a name of the plan on a new table (DROP and CREATE), a column the plan
// reads gone (DROP or RENAME COLUMN) or of another type (ALTER COLUMN TYPE) cannot be mapped.
// A column the plan does not read is noted and left behind, as the plan asks.
std::string Applier::unmappable_schema_change(const ChangeEvent& event, SourceTable* source) {
  const std::string table = event.table.text();
  const std::string how_to_go_on =
      ". Nothing of this transaction or after it was written to the target. Amend the plan and start "
      "cutover run again (it continues from here without a new snapshot when the plan's tables are the "
      "same), or rebuild the target";
  if (event.relation_oid != 0) {
    for (const auto& [name, other] : sources_) {
      if (other.oid == event.relation_oid && name != table) {
        return "table " + name + " of the plan was renamed to " + table + " on the source (ALTER TABLE ... "
               "RENAME), at change log offset " + std::to_string(event.offset) + how_to_go_on;
      }
    }
    if (source && source->oid != 0 && source->oid != event.relation_oid) {
      return "table " + table + " on the source is not the table the plan started from (it was dropped and "
             "created again), at change log offset " + std::to_string(event.offset) + how_to_go_on;
    }
  }
  if (!source) return "";
  std::map<std::string, const SourceColumn*> now;
  for (const auto& column : event.schema_columns) now[column.name] = &column;
  for (const auto& [column, type_oid] : source->reads) {
    const auto found = now.find(column);
    if (found == now.end()) {
      return "column " + table + "." + column + ", which the plan reads, is gone from the source (DROP COLUMN "
             "or RENAME COLUMN), at change log offset " + std::to_string(event.offset) + how_to_go_on;
    }
    if (type_oid != 0 && found->second->type_oid != 0 && found->second->type_oid != type_oid) {
      return "column " + table + "." + column + ", which the plan reads, changed type on the source (ALTER "
             "COLUMN TYPE, now " + found->second->sql_type + "), at change log offset " +
             std::to_string(event.offset) + how_to_go_on;
    }
  }
  std::set<std::string> known;
  for (const auto& column : source->columns) known.insert(column.name);
  for (const auto& column : event.schema_columns) {
    if (known.count(column.name) || source->reads.count(column.name)) continue;
    const std::string notice = "the source's " + table + " has a column " + column.name +
                               " the plan does not read: it is not copied";
    spdlog::warn("schema change table={} column={} note=\"{}\"", table, column.name, notice);
    std::lock_guard lock(counters_.mutex);
    if (std::find(counters_.schema_notices.begin(), counters_.schema_notices.end(), notice) ==
        counters_.schema_notices.end()) {
      counters_.schema_notices.push_back(notice);
    }
  }
  return "";
}

Status Applier::halt_before_current_transaction(const std::string& reason) {
  halt_reason_ = reason;
  halt_offset_ = transaction_begin_offset_;
  writer_.rollback();
  const std::int64_t replay_from = uncommitted_from_;
  const bool completed_before = completed_ > 0;
  in_transaction_ = false;
  skipping_ = false;
  pending_message_.clear();
  reset_green_transaction();
  if (!completed_before || replay_from < 0 || replay_from >= halt_offset_) return halted();
  // The complete transactions the rollback took with it come again, up to the halt.
  return log_.seek(replay_from);
}

Status Applier::halted() {
  spdlog::error("apply halted by a schema change reason=\"{}\"", halt_reason_);
  {
    std::lock_guard lock(counters_.mutex);
    counters_.halted_by = halt_reason_;
  }
  return Status::error("apply halted: " + halt_reason_);
}

Status Applier::flush() {
  for (auto& [name, source] : sources_) {
    if (source.batch->empty()) continue;
    if (auto completed = complete_unchanged_values(source); !completed) return completed;
    // Handed over whole: the writer may still write it while the next batch fills.
    std::shared_ptr<const SourceBatch> full = std::move(source.batch);
    source.batch = std::make_unique<SourceBatch>(full->source_key());
    for (const TableTransform* target : source.targets) {
      if (auto status = writer_.write(*target, source.columns, full); !status) return status;
    }
  }
  rows_in_green_transaction_ += rows_in_batches_;
  bytes_in_green_transaction_ += bytes_in_batches_;
  rows_in_batches_ = 0;
  bytes_in_batches_ = 0;
  return Status::ok();
}

Status Applier::complete_unchanged_values(SourceTable& source) {
  const TableTransform& first = *source.targets.front();
  auto needs_current_row = [&](const std::set<std::string>& unchanged) {
    return std::any_of(source.targets.begin(), source.targets.end(),
                       [&](const TableTransform* target) { return target->needs_complete_row(unchanged); });
  };
  // Key values in text form, as blue returns them, to match its rows to the batch's.
  auto text_key = [&](const RowImage& row) {
    std::string key;
    for (const auto& column : first.source_key) key += row.value_text(column).value_or("") + '\x1f';
    return key;
  };
  std::vector<nlohmann::json> keys;
  std::map<std::string, std::string> batch_key_by_text;
  for (const auto& [key, pending] : source.batch->rows()) {
    if (!pending.after || pending.unchanged_toast.empty() ||
        !needs_current_row(pending.unchanged_toast)) {
      continue;
    }
    nlohmann::json key_values = nlohmann::json::object();
    for (const auto& column : first.source_key) {
      key_values[column] = nlohmann::json::parse(pending.after->value(column).value_or("null"), nullptr, false);
    }
    batch_key_by_text[text_key(*pending.after)] = key;
    keys.push_back(std::move(key_values));
  }
  if (keys.empty()) return Status::ok();
  auto rows = current_rows_.current_rows(first.source, source.columns, first.source_key, keys);
  if (!rows) return rows.status();
  for (const auto& row : *rows) {
    RowImage current = RowImage::of(row);
    const auto found = batch_key_by_text.find(text_key(current));
    if (found != batch_key_by_text.end()) source.batch->replace_current(found->second, std::move(current));
  }
  return Status::ok();
}

Status Applier::commit() {
  const auto started = Clock::now();
  if (auto status = flush(); !status) return status;
  // The batch's rows are written in green's open transaction, its position not yet committed.
  crash_point("apply_inside_batch");
  if (auto status = writer_.commit(completed_end_, completed_ts_ms_, completed_next_offset_);
      !status) {
    return status;
  }
  counters_.batch_rows.observe(static_cast<double>(rows_in_green_transaction_));
  counters_.batch_seconds.observe(std::chrono::duration<double>(Clock::now() - started).count());
  applied_ = completed_end_;
  counters_.applied_lsn = applied_.value();
  counters_.applied_commit_ts_ms = completed_ts_ms_;
  counters_.transactions += completed_;
  counters_.rows += rows_in_green_transaction_;
  counters_.next_offset = completed_next_offset_;
  {
    std::lock_guard lock(counters_.mutex);
    for (const auto& [table, rows] : uncommitted_rows_by_source_) {
      counters_.rows_by_source[table] += rows;
    }
    if (!completed_message_.empty()) counters_.last_message = completed_message_;
  }
  if (!completed_message_.empty()) counters_.message_applied.notify_all();
  reset_green_transaction();
  return Status::ok();
}

void Applier::reset_green_transaction() {
  for (auto& [name, source] : sources_) source.batch->clear();
  uncommitted_from_ = -1;
  completed_ = 0;
  rows_in_green_transaction_ = 0;
  bytes_in_green_transaction_ = 0;
  rows_in_batches_ = 0;
  bytes_in_batches_ = 0;
  uncommitted_rows_by_source_.clear();
  completed_message_.clear();
  green_transaction_started_ = now_();
}

Status Applier::discard_cut_off_transaction(std::int64_t next_begin_offset) {
  spdlog::warn("change log offsets {} to {} hold a transaction cut off by a capture restart; "
               "it is discarded and sent again after it",
               transaction_begin_offset_, next_begin_offset - 1);
  discarded_.emplace_back(transaction_begin_offset_, next_begin_offset);
  writer_.rollback();
  const std::int64_t replay_from = uncommitted_from_;
  in_transaction_ = false;
  skipping_ = false;
  pending_message_.clear();
  reset_green_transaction();
  // Read again what the rolled-back green transaction held, less the cut-off part.
  return log_.seek(replay_from);
}

}  // namespace cutover
