#include "cutover/pipeline/connected_validation.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <set>
#include <sstream>

#include "cutover/apply/apply_privileges.h"
#include "cutover/apply/target_writer.h"
#include "cutover/capture/preflight.h"
#include "cutover/capture/slot_health.h"
#include "cutover/debezium/event_encoder.h"
#include "cutover/pipeline/plan_ownership.h"
#include "cutover/pipeline/server_compatibility.h"
#include "cutover/pipeline/topic_check.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/transform/table_transform.h"
#include "cutover/transform/type_conversion.h"
#include "cutover/transport/topic_admin.h"

namespace cutover {

namespace {

void add_lines(const std::string& text, std::vector<std::string>& problems, const std::string& prefix = "") {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) problems.push_back(prefix + line);
  }
}

// Where a plan's column expressions are: a reverse plan's are the forward entry's reverse.
std::string columns_field(const Plan& plan) { return plan.direction == Direction::kReverse ? ".reverse.columns." : ".columns."; }

std::string table_entry(std::size_t index) { return "tables[" + std::to_string(index) + "]"; }

// The oids that follow `field` (":funcid", ":opno", ...) in a stored query tree.
std::vector<std::string> oids_after(const std::string& tree, const std::string& field) {
  std::vector<std::string> oids;
  const std::string marker = field + " ";
  for (std::size_t at = tree.find(marker); at != std::string::npos; at = tree.find(marker, at + 1)) {
    std::size_t end = at + marker.size();
    while (end < tree.size() && std::isdigit(static_cast<unsigned char>(tree[end]))) ++end;
    if (end > at + marker.size()) oids.push_back(tree.substr(at + marker.size(), end - at - marker.size()));
  }
  return oids;
}

std::string oid_array(const std::vector<std::string>& oids) {
  std::string array = "{";
  for (const auto& oid : oids) array += (array.size() > 1 ? "," : "") + oid;
  return array + "}";
}

struct Impurities {
  std::vector<std::string> refused;  // volatile functions, subqueries, aggregates, ...
  std::vector<std::string> stable;   // stable functions: the same value only at one moment
};

// What the view cutover_validate computes with, by PostgreSQL's own account: its stored query
// tree names every function and operator it calls. A volatile function (random(), nextval(),
// clock_timestamp(), one that writes) gives the snapshot, the applier and the verifier each a
// value of its own; a subquery, an aggregate, a window or set-returning function depends on
// other rows than the one transformed.
Impurities impurities_of_view(pqxx::transaction_base& trial) {
  Impurities found;
  const std::string tree =
      trial.exec_params("SELECT ev_action::text FROM pg_rewrite WHERE ev_class = 'cutover_validate'::regclass")[0][0]
          .c_str();
  const std::pair<const char*, const char*> constructs[] = {
      {":hasSubLinks true", "a subquery, which reads other rows than the one transformed"},
      {":hasAggs true", "an aggregate, which reads other rows than the one transformed"},
      {":hasWindowFuncs true", "a window function, which reads other rows than the one transformed"},
      {":hasTargetSRFs true", "a set-returning function, which makes several rows of one"},
  };
  for (const auto& [flag, what] : constructs) {
    if (tree.find(flag) != std::string::npos) found.refused.push_back(std::string("uses ") + what);
  }
  std::vector<std::string> functions = oids_after(tree, ":funcid");
  for (const auto& field : {":aggfnoid", ":winfnoid"}) {
    for (auto& oid : oids_after(tree, field)) functions.push_back(std::move(oid));
  }
  const auto rows = trial.exec_params(
      "SELECT DISTINCT p.oid::regprocedure::text, p.provolatile, p.proretset FROM pg_proc p "
      "WHERE p.oid = ANY($1::oid[]) OR p.oid IN (SELECT oprcode FROM pg_operator WHERE oid = ANY($2::oid[])) "
      "ORDER BY 1",
      oid_array(functions), oid_array(oids_after(tree, ":opno")));
  for (const auto& row : rows) {
    const std::string function = row[0].c_str();
    const std::string volatility = row[1].c_str();
    if (volatility == "v") {
      found.refused.push_back("calls " + function + ", which is volatile: the snapshot, the applier and "
                              "the verifier would each compute another value");
    } else if (row[2].as<bool>()) {
      found.refused.push_back("calls " + function + ", which returns a set of rows");
    } else if (volatility == "s") {
      found.stable.push_back(function);
    }
  }
  return found;
}

// Tries one expression of the plan on the source, in a view that the caller's transaction
// rolls back: its type, or why it cannot be used. Sent through the extended protocol, which
// runs one statement at most, so that plan text never runs a statement of its own.
struct ExpressionTrial {
  std::string type;
  std::optional<std::string> failure;
  Impurities impurities;
};
ExpressionTrial try_expression(pqxx::connection& source, const TableTransform& transform,
                               const std::string& select_list, const std::string& filter) {
  ExpressionTrial result;
  try {
    pqxx::work trial(source);
    trial.exec("SET TRANSACTION READ WRITE");  // a temporary view, even on a fenced side
    trial.exec_params("CREATE TEMP VIEW cutover_validate AS SELECT " + select_list + " FROM " +
                      transform.source.quoted() + " AS " + quote_identifier(transform.source.name) +
                      " WHERE " + filter);
    result.type = trial.exec_params(
        // A domain's base type: on green the value is read as that (the domain may not exist there).
        "SELECT format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, "
        "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = 'cutover_validate'::regclass AND a.attnum = 1")[0][0]
                      .c_str();
    result.impurities = impurities_of_view(trial);
    trial.abort();
  } catch (const std::exception& error) {
    std::string reason = error.what();
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    result.failure = reason;
  }
  return result;
}

// How a value of `expression_type` becomes green's column: by the INSERT's assignment, as the
// snapshot and the applier write it, so only a conversion PostgreSQL makes on assignment is
// accepted. One that can lose data is refused on a key (a key cut short would match another
// row) and otherwise reported, and verification proves it: green's value cast back to the
// value's type must equal blue's, which needs that type on green too.
void check_conversion(const Plan& plan, const TableTransform& transform, const TargetColumn& target,
                      const std::string& expression_type, pqxx::connection& green, DatabaseCheck& check) {
  const std::string field = plan.file + ": " + table_entry(transform.plan_index) + columns_field(plan) + target.name;
  const std::string side = plan.target_side();
  try {
    pqxx::work trial(green);
    trial.exec_params("EXPLAIN INSERT INTO " + transform.target.quoted() + " (" + quote_identifier(target.name) +
                      ") SELECT NULL::" + expression_type);
    trial.abort();
  } catch (const pqxx::insufficient_privilege&) {
    // A role that may not insert there yet: the privilege checks say so; the conversion
    // cannot be tried, and is tried again before the switch that needs it.
  } catch (const std::exception&) {
    check.problems.push_back(field + ": gives " + expression_type + ", which does not convert to " + side +
                             "'s " + target.sql_type + " on assignment; write the conversion you mean in "
                             "the expression, for example (" + target.expression + ")::" + target.sql_type);
    return;
  }
  if (target.value_type == "json" && target.sql_type == "jsonb") {
    // Lossless by the conversion table (verification compares jsonb forms), but not without
    // a word: a key given twice keeps only its last value, which no comparison of jsonb sees.
    check.warnings.push_back(field + ": json to " + side + "'s jsonb drops whitespace, key order and every "
                             "repeated key but the last; verification compares the jsonb forms, so a "
                             "dropped repeated key is not reported");
  }
  if (target.loss.empty()) return;
  const bool key = std::find(transform.key.begin(), transform.key.end(), target.name) != transform.key.end();
  const std::string conversion = target.value_type + " to " + side + "'s " + target.sql_type + " can lose " + target.loss;
  if (conversion_refuses_what_it_cannot_carry(target.value_type, target.sql_type)) {
    // bigint to integer, the way back of the commonest move: a value that does not fit stops
    // the pipeline with PostgreSQL's error; no value is ever changed.
    check.warnings.push_back(field + ": " + conversion + "; the first value that does not fit stops the "
                             "pipeline with PostgreSQL's error, and none is changed");
    return;
  }
  if (key) {
    check.problems.push_back(field + ": " + conversion + "; a key must convert without loss (a key cut short "
                             "would update or delete another row). Widen the column on " + side);
    return;
  }
  try {
    pqxx::nontransaction query(green);
    if (query.exec_params("SELECT to_regtype($1) IS NULL", target.value_type)[0][0].as<bool>()) {
      check.problems.push_back(field + ": " + conversion + ", and verification cannot prove it did not: " + side +
                               " has no type " + target.value_type + " to cast its values back to. Widen the "
                               "column, or create the type on " + side);
      return;
    }
  } catch (const std::exception& error) {
    check.problems.push_back(field + ": reading " + side + "'s types: " + error.what());
    return;
  }
  check.warnings.push_back(field + ": " + conversion + ". The snapshot and the applier refuse a value that "
                           "does not fit where PostgreSQL does; verification compares each value cast back to " +
                           target.value_type + " with blue's, and reports any that changed");
}

// Verification proves a lossy column of a merged target by one cast back, so every source of
// it must give the value the same type.
void check_merged_conversions(const Plan& plan, const std::vector<TableTransform>& transforms,
                              std::vector<std::string>& problems) {
  for (const auto& transform : transforms) {
    for (const auto& column : transform.columns) {
      if (column.loss.empty()) continue;
      for (const auto& other : transforms) {
        if (other.target != transform.target || &other == &transform) continue;
        for (const auto& sibling : other.columns) {
          if (sibling.name == column.name && sibling.value_type != column.value_type) {
            problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".columns." + column.name +
                               ": " + column.value_type + " to " + column.sql_type + " can lose " + column.loss +
                               ", and " + table_entry(other.plan_index) + " merges " + sibling.value_type +
                               " into the same column: verification cannot cast both back. Give them one type");
          }
        }
      }
    }
  }
}

// Each target expression and the row filter, tried on blue one at a time so that a message
// names the field: does it run, is it pure, and does its type convert to green's column.
void check_expressions(const Plan& plan, const std::vector<TableTransform>& transforms,
                       pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check) {
  for (const TableTransform& transform : transforms) {
    const std::string entry = plan.file + ": " + table_entry(transform.plan_index);
    auto report_impurities = [&](const std::string& field, const Impurities& impurities) {
      for (const auto& reason : impurities.refused) {
        check.problems.push_back(field + ": " + reason + "; use immutable or stable functions of the row only");
      }
      for (const auto& function : impurities.stable) {
        check.warnings.push_back(field + ": calls " + function + ", which is stable: its value depends on "
                                 "the moment or the session each path runs it in, and verification "
                                 "reports the rows where they differ");
      }
    };
    if (!transform.where.empty()) {
      const auto filter = try_expression(blue, transform, "1", transform.filter());
      if (filter.failure) {
        check.problems.push_back(entry + ".where: does not run on " + plan.source_side() + ": " + *filter.failure);
      } else {
        report_impurities(entry + ".where", filter.impurities);
      }
    }
    for (const TargetColumn& target : transform.columns) {
      // A column whose value type is unknown did not run: resolve_transforms said so.
      if (target.value_type.empty()) continue;
      const std::string field = entry + columns_field(plan) + target.name;
      const auto trial = try_expression(blue, transform, "(" + target.expression + ")", "true");
      if (trial.failure) {
        check.problems.push_back(field + ": the transform of " + transform.source.text() + " does not run on " +
                                 plan.source_side() + ": " + *trial.failure);
        continue;
      }
      report_impurities(field, trial.impurities);
      check_conversion(plan, transform, target, trial.type, green, check);
    }
  }
}

void check_keys_and_identity(const Plan& plan, const std::vector<TableTransform>& transforms,
                             pqxx::connection& source, pqxx::connection& target,
                             std::vector<std::string>& problems) {
  pqxx::nontransaction source_query(source);
  pqxx::nontransaction target_query(target);
  for (std::size_t index = 0; index < transforms.size(); ++index) {
    const TableTransform& transform = transforms[index];
    const std::string entry = plan.file + ": " + table_entry(transform.plan_index);
    const std::string source_side = plan.source_side();
    const std::string target_side = plan.target_side();
    const auto identity = source_query.exec(
        "SELECT relreplident FROM pg_class WHERE oid = to_regclass(" +
        source_query.quote(transform.source.quoted()) + ")");
    const std::string replica_identity = identity.empty() ? "" : identity[0][0].c_str();
    if (transform.key.empty()) {
      // A keyless target takes inserts, and updates and deletes matched on the whole old row.
      if (replica_identity == "f") continue;
      problems.push_back(entry + ".key: " + target_side + "'s " + transform.target.text() +
                         " has no primary key; name the target key with key: [...], or set "
                         "REPLICA IDENTITY FULL on " + source_side + "'s " + transform.source.text());
      continue;
    }
    std::string key_array;
    for (const auto& key : transform.key) {
      key_array += (key_array.empty() ? "" : ",") + target_query.quote(key);
    }
    const auto unique = target_query.exec(
        "SELECT count(*), count(*) FILTER (WHERE i.indimmediate) FROM pg_index i WHERE i.indrelid = to_regclass(" +
        target_query.quote(transform.target.quoted()) +
        ") AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND "
        "(SELECT array_agg(attname::text ORDER BY attname) FROM pg_attribute WHERE attrelid = "
        "i.indrelid AND attnum = ANY(i.indkey)) = (SELECT array_agg(k ORDER BY k) FROM "
        "unnest(ARRAY[" + key_array + "]::text[]) k)");
    if (unique[0][0].as<long>() == 0) {
      problems.push_back(entry + ".key: " + target_side + "'s " + transform.target.text() +
                         " has no unique index on (" + key_array +
                         "), which the applier's upserts need");
    } else if (unique[0][1].as<long>() == 0) {
      problems.push_back(entry + ".key: " + target_side + "'s " + transform.target.text() + " key (" + key_array +
                         ") is DEFERRABLE, which INSERT ... ON CONFLICT cannot use; make the constraint "
                         "NOT DEFERRABLE (ALTER TABLE " + transform.target.quoted() +
                         " ALTER CONSTRAINT <name> NOT DEFERRABLE)");
    }
    // A unique index lets NULL keys repeat: rows with a NULL key could never be updated or
    // deleted by key, and the snapshot would copy them beside the applier's.
    const auto nullable = target_query.exec_params(
        "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = "
        "to_regclass($1) AND attnum > 0 AND NOT attisdropped AND NOT attnotnull AND attname = ANY($2::text[])",
        transform.target.quoted(), text_array_literal(transform.key));
    if (!nullable[0][0].is_null()) {
      problems.push_back(entry + ".key: " + target_side + "'s " + transform.target.text() + " key column(s) " +
                         nullable[0][0].as<std::string>() + " may be NULL; make them NOT NULL (ALTER TABLE " +
                         transform.target.quoted() + " ALTER COLUMN ... SET NOT NULL)");
    }
    for (const auto& key : transform.key) {
      for (const auto& column : transform.columns) {
        if (column.name != key || !column.plain_copy) continue;
        const auto source_nullable = source_query.exec_params(
            "SELECT NOT attnotnull FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
            "AND NOT attisdropped",
            transform.source.quoted(), *column.reads.begin());
        if (!source_nullable.empty() && source_nullable[0][0].as<bool>()) {
          problems.push_back(entry + ".key: target key " + key + " copies " + source_side + "'s " +
                             transform.source.text() + "." + *column.reads.begin() +
                             ", which may be NULL; make it NOT NULL on " + source_side +
                             ", or key the target on columns that are");
        }
      }
    }
    if (replica_identity == "f") continue;
    // Deletes and key changes send only the identity columns of the old row: the target
    // key must be computable from them.
    std::set<std::string> identity_columns(transform.source_key.begin(), transform.source_key.end());
    for (const auto& key : transform.key) {
      for (const auto& column : transform.columns) {
        if (column.name != key) continue;
        for (const auto& used : referenced_identifiers(column.expression)) {
          bool is_source_column = false;
          for (const auto& read : transform.source_columns) is_source_column |= read.name == used;
          if (is_source_column && !identity_columns.count(used)) {
            problems.push_back(entry + ".key: target key " + key + " is computed from " + used +
                               ", which " + source_side + " does not send for deletes (not in the replica "
                               "identity of " + transform.source.text() +
                               "); run ALTER TABLE " + transform.source.quoted() +
                               " REPLICA IDENTITY FULL");
          }
        }
      }
    }
  }
}

// Green's columns cutover writes must take the values it writes: an identity column
// GENERATED ALWAYS refuses them.
void check_written_columns(const Plan& plan, const std::vector<TableTransform>& transforms,
                           pqxx::connection& green, std::vector<std::string>& problems) {
  pqxx::nontransaction query(green);
  for (const auto& transform : transforms) {
    for (const auto& column : transform.columns) {
      const auto identity = query.exec_params(
          "SELECT attidentity FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
          "AND NOT attisdropped",
          transform.target.quoted(), column.name);
      if (!identity.empty() && identity[0][0].as<std::string>() == "a") {
        problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".columns." + column.name +
                           ": green's " + transform.target.text() + "." + column.name +
                           " is GENERATED ALWAYS AS IDENTITY, which refuses the values cutover copies; "
                           "ALTER TABLE " + transform.target.quoted() + " ALTER COLUMN " +
                           quote_identifier(column.name) + " SET GENERATED BY DEFAULT");
      }
    }
  }
}

// The snapshot and the applier read blue's values on green as blue's column types (a domain
// as its base type): each must exist there.
void check_source_types_exist(const Plan& plan, const std::vector<TableTransform>& transforms,
                              pqxx::connection& green, std::vector<std::string>& problems) {
  pqxx::nontransaction query(green);
  for (const auto& transform : transforms) {
    for (const auto& column : transform.columns_read()) {
      if (!query.exec_params("SELECT to_regtype($1) IS NULL", column.unconstrained_type)[0][0].as<bool>()) continue;
      problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".source: " + plan.source_side() +
                         "'s column " + transform.source.text() + "." + column.name + " has type " +
                         column.unconstrained_type + ", which " + plan.target_side() + " lacks: its values are "
                         "read there as that type. Create the type on " + plan.target_side());
    }
  }
}

// cutover writes green with session_replication_role = replica, so that green's ordinary
// triggers do not run again what blue's already did. A trigger set ENABLE ALWAYS or ENABLE
// REPLICA fires all the same, once per copied and once per applied row (a running total
// doubled).
void check_target_triggers(const Plan& plan, const std::vector<TableTransform>& transforms,
                           pqxx::connection& green, std::vector<std::string>& problems) {
  pqxx::nontransaction query(green);
  std::set<std::string> seen;
  for (const auto& transform : transforms) {
    if (!seen.insert(transform.target.text()).second) continue;
    const auto triggers = query.exec_params(
        "SELECT tgname, CASE tgenabled WHEN 'A' THEN 'ALWAYS' ELSE 'REPLICA' END FROM pg_trigger "
        "WHERE tgrelid = to_regclass($1) AND NOT tgisinternal AND tgenabled IN ('A', 'R') ORDER BY tgname",
        transform.target.quoted());
    for (const auto& trigger : triggers) {
      const std::string name = trigger[0].as<std::string>();
      problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".target: green's trigger " + name +
                         " on " + transform.target.text() + " is ENABLE " + trigger[1].as<std::string>() +
                         ", so it fires for every row cutover copies and applies: ALTER TABLE " +
                         transform.target.quoted() + " ENABLE TRIGGER " + quote_identifier(name) +
                         " (it then fires for the application's writes only, after the switch)");
    }
  }
}

// The snapshot reads every source table, the switch every mapped sequence of blue; the
// applier writes green's targets, its position and origin, with triggers off.
void check_privileges(const Plan& plan, const std::vector<TableTransform>& transforms,
                      pqxx::connection& blue, pqxx::connection& green,
                      std::vector<std::string>& problems) {
  {
    pqxx::nontransaction blue_query(blue);
    auto may_read = [&](bool sequence, const QualifiedName& object, const std::string& field) {
      const std::string ask = sequence ? "has_sequence_privilege" : "has_table_privilege";
      // A sequence that is not there is check_sequences_exist's to report.
      const auto row = blue_query.exec_params(
          "SELECT to_regclass($1) IS NULL OR " + ask + "($1, 'SELECT')", object.quoted());
      if (row[0][0].as<bool>()) return;
      problems.push_back(plan.file + ": " + field + ": blue's role may not read " + object.text() +
                         " (GRANT SELECT ON " + (sequence ? "SEQUENCE " : "") + object.quoted() +
                         " TO <the plan's user>)");
    };
    for (const auto& transform : transforms) {
      may_read(false, transform.source, table_entry(transform.plan_index) + ".source");
    }
    for (std::size_t index = 0; index < plan.sequences.size(); ++index) {
      may_read(true, plan.sequences[index].source, "sequences[" + std::to_string(index) + "].source");
    }
  }
  for (const auto& missing : missing_apply_privileges(green, plan, transforms)) problems.push_back(missing);
}

// The switch sets each mapped sequence of the side clients move to from the side they leave.
void check_sequences_exist(const Plan& plan, pqxx::connection& blue, pqxx::connection& green,
                           std::vector<std::string>& problems) {
  pqxx::nontransaction blue_query(blue);
  pqxx::nontransaction green_query(green);
  const std::string is_sequence =
      "SELECT coalesce((SELECT relkind = 'S' FROM pg_class WHERE oid = to_regclass($1)), false)";
  for (std::size_t index = 0; index < plan.sequences.size(); ++index) {
    const std::string field = plan.file + ": sequences[" + std::to_string(index) + "]";
    const auto& sequence = plan.sequences[index];
    if (!blue_query.exec_params(is_sequence, sequence.source.quoted())[0][0].as<bool>()) {
      problems.push_back(field + ".source: blue has no sequence " + sequence.source.text());
    }
    if (!green_query.exec_params(is_sequence, sequence.target.quoted())[0][0].as<bool>()) {
      problems.push_back(field + ".target: green has no sequence " + sequence.target.text());
    }
  }
}

// A column the source generates (GENERATED ALWAYS AS ... STORED) is not in its change stream
// (pgoutput leaves generated columns out), so a transform must not read it: the snapshot
// would copy it and every streamed row would lack it.
void check_generated_sources(const Plan& plan, const std::vector<TableTransform>& transforms,
                             pqxx::connection& source, std::vector<std::string>& problems) {
  pqxx::nontransaction query(source);
  for (const auto& transform : transforms) {
    const auto generated = query.exec_params(
        "SELECT attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
        "JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE a.attrelid = to_regclass($1) AND a.attgenerated <> '' AND NOT a.attisdropped",
        transform.source.quoted());
    for (const auto& row : generated) {
      const std::string name = row[0].as<std::string>();
      for (const auto& column : transform.columns) {
        if (!column.reads.count(name)) continue;
        problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".columns." + column.name + ": reads " +
                           plan.source_side() + "'s generated column " + transform.source.text() + "." + name +
                           ", which logical replication does not send: compute it from the columns it is made of (" +
                           column.name + ": " + row[1].as<std::string>() + ")");
      }
      if (referenced_identifiers(transform.where).count(name)) {
        problems.push_back(plan.file + ": " + table_entry(transform.plan_index) + ".where: reads " +
                           plan.source_side() + "'s generated column " + transform.source.text() + "." + name +
                           ", which logical replication does not send; filter on the columns it is made of");
      }
    }
  }
}

// A column cutover copies into that takes its default from a sequence (serial, identity): the
// copied rows leave the sequence where it was, and after a switch the application's next rows
// would take ids blue already gave, unless the plan's sequences move it along.
void check_unsynced_sequences(const Plan& plan, const std::vector<TableTransform>& transforms,
                              pqxx::connection& green, DatabaseCheck& check) {
  pqxx::nontransaction query(green);
  std::set<std::string> listed;  // OIDs of the plan's target sequences, as text
  for (const auto& sequence : plan.sequences) {
    const auto row = query.exec_params1("SELECT to_regclass($1)::oid::text", sequence.target.quoted());
    if (!row[0].is_null()) listed.insert(row[0].as<std::string>());
  }
  std::set<std::string> said;
  for (const auto& transform : transforms) {
    std::vector<std::string> written;
    for (const auto& column : transform.columns) written.push_back(column.name);
    const auto rows = query.exec_params(
        "SELECT c.name, s::text, s::oid::text FROM unnest($2::text[]) WITH ORDINALITY AS c(name, position), "
        "LATERAL (SELECT pg_get_serial_sequence($1, c.name)::regclass AS s) found WHERE s IS NOT NULL "
        "ORDER BY c.position",
        transform.target.quoted(), text_array_literal(written));
    for (const auto& row : rows) {
      const std::string sequence = row[1].as<std::string>();
      if (listed.count(row[2].as<std::string>()) || !said.insert(sequence).second) continue;
      check.warnings.push_back(
          plan.file + ": sequences: green's " + transform.target.text() + "." + row[0].as<std::string>() +
          " takes its default from sequence " + sequence +
          ", which the plan's sequences do not list: the copied rows leave it where it is, and after a "
          "switch the application's new rows would take values blue already gave (duplicate keys). List "
          "it (source: blue's sequence, target: " + sequence + ")");
    }
  }
}

// The plan's search_path schemas exist on both sides (a missing one would quietly resolve
// names elsewhere on one of them), and a schema in which every role may create objects is
// said: any of them could put a function there that a transform would call.
void check_search_path(const Plan& plan, pqxx::connection& blue, pqxx::connection& green,
                       DatabaseCheck& check) {
  for (const auto& [connection, side] : {std::pair{&blue, std::string("blue")}, std::pair{&green, std::string("green")}}) {
    pqxx::nontransaction query(*connection);
    for (const auto& schema : plan.search_path) {
      const auto row = query.exec_params1(
          "SELECT n.oid IS NOT NULL, coalesce(has_schema_privilege('public', n.oid, 'CREATE'), false) "
          "FROM (SELECT $1::text AS name) wanted LEFT JOIN pg_namespace n ON n.nspname = wanted.name",
          schema);
      if (!row[0].as<bool>()) {
        check.problems.push_back(plan.file + ": search_path: " + side + " has no schema " + schema);
      } else if (row[1].as<bool>()) {
        check.warnings.push_back(plan.file + ": search_path: every role may CREATE in " + side + "'s schema " +
                                 schema + ", so any of them could add a function or operator there that a "
                                 "transform would call; REVOKE CREATE ON SCHEMA " + quote_identifier(schema) +
                                 " FROM PUBLIC, or qualify the names the expressions use and leave " + schema +
                                 " out of search_path");
      }
    }
  }
}

void check_green_empty(const Plan& plan, const std::vector<TableTransform>& transforms,
                       pqxx::connection& green, std::vector<std::string>& problems) {
  auto position = read_applied_position(green, plan);
  if (position && position->snapshot_complete) return;
  for (const auto& target : targets_holding_rows(green, transforms)) {
    problems.push_back("green: " + target.text() +
                       " already has rows; the snapshot copies into empty tables only");
  }
}

// What the roles lack to run the way back: blue's to apply there; green's to be captured
// (wal_level, REPLICATION, its publication) and to see its sessions for the rollback's
// guardrail. One line each, starting "rollback: ".
std::vector<std::string> roles_short_of_rollback(const Plan& reverse, const std::vector<TableTransform>& mapped,
                                                 pqxx::connection& green, pqxx::connection& blue) {
  std::vector<std::string> problems;
  try {
    for (const auto& missing : missing_apply_privileges(blue, reverse, mapped)) problems.push_back("rollback: " + missing);
    if (auto sees = check_sees_other_sessions(green, reverse.source_side()); !sees) {
      problems.push_back("rollback: " + sees.message());
    }
  } catch (const std::exception& error) {
    problems.push_back(std::string("rollback: checking privileges: ") + error.what());
  }
  if (auto capture = check_source_for_capture(reverse, std::chrono::milliseconds(0)); !capture) {
    add_lines(capture.status().message(), problems, "rollback: ");
  }
  return problems;
}

// A plan with a way back (derived, or reverse.columns) must have one that maps, or the
// switch would find out too late. A plan without one (a split, a merge, a computed column
// without reverse.columns) is allowed: its switch needs --force-without-rollback. Whether the
// roles could run the way back is a warning: that can be fixed before the switch.
void check_reverse(const Plan& plan, pqxx::connection& blue, pqxx::connection& green, DatabaseCheck& check) {
  auto reverse = derive_reverse_plan(plan);
  if (!reverse) return;
  auto mapped = check_reverse_mapping(*reverse, green, blue);
  if (!mapped) {
    check.problems.push_back("rollback: " + mapped.status().message());
    return;
  }
  // The reverse expressions as the forward ones: they run, purely, and convert into blue.
  DatabaseCheck expressions;
  check_expressions(*reverse, *mapped, green, blue, expressions);
  check_generated_sources(*reverse, *mapped, green, expressions.problems);
  for (const auto& problem : expressions.problems) check.problems.push_back("rollback: " + problem);
  // And its keys: a delete on green must name the row on blue. Green's replica identity is
  // often set only when a rollback is wanted: until then the switch's rollback_possible
  // guardrail refuses (or --force-without-rollback), as for a plan with no way back.
  std::vector<std::string> key_problems;
  check_keys_and_identity(*reverse, *mapped, green, blue, key_problems);
  for (const auto& problem : key_problems) {
    check.warnings.push_back("rollback: " + problem +
                             " (until then a switch is refused, or needs --force-without-rollback)");
  }
  for (const auto& warning : expressions.warnings) check.warnings.push_back("rollback: " + warning);
  if (!expressions.problems.empty()) return;
  for (auto& problem : roles_short_of_rollback(*reverse, *mapped, green, blue)) check.warnings.push_back(std::move(problem));
}

}  // namespace

Status check_sees_other_sessions(pqxx::connection& connection, const std::string& side) {
  pqxx::nontransaction query(connection);
  const auto row = query.exec1(
      "SELECT current_user, rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') "
      "FROM pg_roles WHERE rolname = current_user");
  if (row[1].as<bool>()) return Status::ok();
  const std::string role = row[0].as<std::string>();
  return Status::error(side + ": role " + role + " cannot see other roles' transactions in pg_stat_activity, "
                       "which the long_write_transactions guardrail reads before a freeze (GRANT "
                       "pg_read_all_stats TO " + quote_identifier(role) + ")");
}

Result<std::size_t> check_rollback_ready(const Plan& reverse, pqxx::connection& green, pqxx::connection& blue) {
  auto mapped = check_reverse_mapping(reverse, green, blue);
  if (!mapped) return mapped.status().with_context("rollback");
  DatabaseCheck expressions;
  try {
    check_expressions(reverse, *mapped, green, blue, expressions);
    check_generated_sources(reverse, *mapped, green, expressions.problems);
    check_keys_and_identity(reverse, *mapped, green, blue, expressions.problems);
  } catch (const std::exception& error) {
    expressions.problems.push_back(std::string("checking the reverse expressions: ") + error.what());
  }
  auto problems = roles_short_of_rollback(reverse, *mapped, green, blue);
  for (const auto& problem : expressions.problems) problems.insert(problems.begin(), "rollback: " + problem);
  if (problems.empty()) return mapped->size();
  std::string message;
  for (const auto& problem : problems) message += (message.empty() ? "" : "\n") + problem;
  return Status::error(message);
}

namespace {

// replication.failover: a failover slot needs 17; it reaches a standby only if one streams with
// sync_replication_slots, and green stays behind what a standby has only with
// synchronized_standby_slots.
void check_failover_slot(const Plan& plan, pqxx::connection& blue, DatabaseCheck& check) {
  pqxx::read_transaction query(blue);
  const auto row = query.exec(
      "SELECT current_setting('server_version_num')::int, "
      "coalesce(current_setting('synchronized_standby_slots', true), ''), "
      "(SELECT count(*) FROM pg_stat_replication)")[0];
  const int version = row[0].as<int>();
  if (version < 170000) {
    check.problems.push_back(plan.file + ": replication.failover: blue runs PostgreSQL " +
                             std::to_string(version / 10000) +
                             "; failover slots need 17 or later (set it to false, or upgrade blue first)");
    return;
  }
  if (row[1].as<std::string>().empty()) {
    check.warnings.push_back(
        "blue: synchronized_standby_slots is empty: cutover may receive, and green apply, changes a standby has "
        "not yet received, which a failover to that standby loses while green keeps them. Set it to the "
        "standbys' physical slots");
  }
  if (row[2].as<long>() == 0) {
    check.warnings.push_back("blue: no standby streams from blue now: the failover slot is synchronized only to "
                             "standbys with sync_replication_slots = on, hot_standby_feedback = on and a "
                             "primary_slot_name");
  }
}

// kafka.debezium: every column of every table of `directed`'s source (blue's, or for the
// reverse plan green's, which publishes the stream after a switch) is of a type the
// Debezium-form stream writes as Debezium does, and no Debezium topic is one of the change
// logs. Refused here, a column Debezium's mapping lacks would otherwise stop capture at its
// table's first change, and after a switch the way back with it.
void check_debezium_stream(const Plan& directed, pqxx::connection& source, std::vector<std::string>& problems) {
  const auto& stream = directed.kafka.debezium;
  if (!stream.enabled) return;
  const std::string field = directed.file + ": kafka.debezium";
  const std::string side = directed.source_side();
  debezium::PostgresTableCatalog catalog(directed.source().dsn, side);
  const std::string prefix = directed.kafka.topic_prefix;
  for (const auto& table : directed.source_tables()) {
    const std::string topic = debezium::table_topic(stream.topic_prefix, table.schema, table.name);
    if (topic == prefix + ".changes" || topic == prefix + ".reverse") {
      problems.push_back(field + ".topic_prefix: " + table.text() + "'s topic " + topic +
                         " is a change log of the plan; choose another prefix");
    }
    pqxx::read_transaction query(source);
    const auto oid = query.exec_params("SELECT to_regclass($1)::oid::int8", table.quoted());
    if (oid.empty() || oid[0][0].is_null()) continue;  // capture's own checks name a missing table
    auto described = catalog.describe(static_cast<std::uint32_t>(oid[0][0].as<std::int64_t>()));
    if (!described) {
      problems.push_back(field + ": " + described.status().message());
      continue;
    }
    // A replica identity index other than the primary key hides a change of the key: pgoutput
    // sends the old row only when the identity's columns change, so a new key would be
    // published as an update and consumers would keep the old key's row.
    std::vector<std::string> key = described->primary_key;
    std::sort(key.begin(), key.end());
    const auto other_identity = query.exec_params(
        "SELECT c.relreplident = 'i' AND coalesce((SELECT array_agg(a.attname::text ORDER BY a.attname) "
        "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = c.oid AND i.indisreplident) IS DISTINCT FROM $2::text[], true) "
        "FROM pg_class c WHERE c.oid = $1::int8::oid",
        oid[0][0].as<std::int64_t>(), text_array_literal(key));
    if (!other_identity.empty() && other_identity[0][0].as<bool>()) {
      problems.push_back(field + ": " + side + "'s " + table.text() + " has a replica identity index other than its primary "
                         "key, so a change of the primary key would reach the stream as an update; use REPLICA "
                         "IDENTITY DEFAULT or FULL");
    }
    for (const auto& column : described->columns) {
      if (std::string why; !debezium::is_supported(column.type, &why)) {
        problems.push_back(field + ": " + side + "'s " + table.text() + "." + column.name + ": " + why +
                           (directed.direction == Direction::kReverse ? " (green publishes the stream after a switch)" : "") +
                           "; take kafka.debezium out of the plan, or change the column's type");
      }
    }
  }
}

// After a switch the stream comes from green's tables: a table the plan renames (or moves to
// another schema) is published on another topic from then on, and a consumer that reads only
// blue's topic would stop seeing its changes without an error.
void warn_of_topics_changing_at_the_switch(const Plan& plan, DatabaseCheck& check) {
  const auto& stream = plan.kafka.debezium;
  for (const auto& mapping : plan.tables) {
    const std::string before = debezium::table_topic(stream.topic_prefix, mapping.source.schema, mapping.source.name);
    const std::string after = debezium::table_topic(stream.topic_prefix, mapping.target.schema, mapping.target.name);
    if (before == after) continue;
    check.warnings.push_back(plan.file + ": kafka.debezium: " + mapping.source.text() + "'s changes are published on " +
                             before + " until the switch and on " + after + " (green's " + mapping.target.text() +
                             ") after it: have its consumers read both topics");
  }
}

}  // namespace

DatabaseCheck check_plan_against_databases(const Plan& plan) {
  DatabaseCheck check;
  auto& problems = check.problems;
  if (!plan.kafka.is_embedded()) {
    if (auto reachable = check_brokers_reachable(plan.kafka.brokers, plan.kafka.properties, kBrokerTimeout);
        !reachable) {
      problems.push_back(plan.file + ": kafka.brokers: " + reachable.message());
    } else {
      if (auto topics = check_change_log_topics(plan); !topics) {
        problems.push_back(plan.file + ": kafka.brokers: " + topics.status().message());
      } else {
        problems.insert(problems.end(), topics->problems.begin(), topics->problems.end());
        check.warnings.insert(check.warnings.end(), topics->warnings.begin(), topics->warnings.end());
      }
    }
  }
  if (!plan.green) {
    problems.push_back(plan.file + ": green: is required (dsn or dsn_env)");
    return check;
  }
  auto blue = open_postgres(plan.blue.dsn, "blue");
  if (!blue) problems.push_back(blue.status().message());
  auto green = open_postgres(plan.green->dsn, "green");
  if (!green) problems.push_back(green.status().message());
  if (!blue || !green) return check;

  try {
    if (auto unsupported = unsupported_versions(plan, **blue, **green); !unsupported.empty()) {
      problems.insert(problems.end(), unsupported.begin(), unsupported.end());
      return check;
    }
    if (auto distinct = check_distinct_databases(plan, read_database_identity(**blue),
                                                 read_database_identity(**green));
        !distinct) {
      problems.push_back(distinct.message());
      return check;
    }
  } catch (const std::exception& error) {
    problems.push_back(std::string("reading the databases' identities: ") + error.what());
    return check;
  }
  // Capture's own checks: wal_level, encoding, REPLICATION, tables, keys, slots.
  if (auto capture = check_source_for_capture(plan, std::chrono::milliseconds(0)); !capture) {
    add_lines(capture.status().message(), problems);
  }
  try {
    check_search_path(plan, **blue, **green, check);
  } catch (const std::exception& error) {
    problems.push_back(std::string("checking search_path: ") + error.what());
  }
  auto transforms = resolve_transforms(plan, **blue, **green, &problems);
  if (!transforms) {
    add_lines(transforms.status().message(), problems);
    return check;
  }
  try {
    check_servers_compatible(plan, *transforms, **blue, **green, check);
    check_expressions(plan, *transforms, **blue, **green, check);
    check_merged_conversions(plan, *transforms, problems);
    check_keys_and_identity(plan, *transforms, **blue, **green, problems);
    check_written_columns(plan, *transforms, **green, problems);
    check_generated_sources(plan, *transforms, **blue, problems);
    check_target_triggers(plan, *transforms, **green, problems);
    check_source_types_exist(plan, *transforms, **green, problems);
    check_sequences_exist(plan, **blue, **green, problems);
    check_unsynced_sequences(plan, *transforms, **green, check);
    check_privileges(plan, *transforms, **blue, **green, problems);
    check_green_empty(plan, *transforms, **green, problems);
    check_debezium_stream(plan, **blue, problems);
    if (plan.kafka.debezium.enabled) {
      if (auto reverse = derive_reverse_plan(plan); reverse) {
        check_debezium_stream(*reverse, **green, problems);
        warn_of_topics_changing_at_the_switch(plan, check);
      } else {
        check.warnings.push_back(plan.file + ": kafka.debezium: the plan has no way back, so no pipeline reads "
                                 "green after a switch and nothing publishes the Debezium-form stream then: start "
                                 "a Debezium connector on green before switching");
      }
    }
    if (auto sees = check_sees_other_sessions(**blue, plan.source_side()); !sees) {
      check.warnings.push_back(sees.message());
    }
    const WalKeepReport keep = wal_keep_report(**blue, plan);
    (keep.unlimited ? check.warnings : check.notes).push_back(keep.text);
    if (plan.replication.failover) check_failover_slot(plan, **blue, check);
    // Only a plan that works forward is worth checking backward: its problems would repeat.
    if (problems.empty()) check_reverse(plan, **blue, **green, check);
  } catch (const std::exception& error) {
    problems.push_back(std::string("checking the plan against the databases: ") + error.what());
  }
  return check;
}

}  // namespace cutover
