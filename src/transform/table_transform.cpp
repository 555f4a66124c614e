#include "cutover/transform/table_transform.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "cutover/common/database_errors.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/transform/type_conversion.h"

namespace cutover {

namespace {

std::vector<SourceColumn> table_columns(pqxx::work& query, const QualifiedName& table) {
  std::vector<SourceColumn> columns;
  const auto rows = query.exec_params(
      // A domain is read as its base type, as pgoutput names it: the domain itself may exist
      // on the source only.
      "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
      "format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, -1), "
      "CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) "
      "ELSE format_type(a.atttypid, a.atttypmod) END, a.atttypid "
      "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped "
      "AND a.attgenerated = '' ORDER BY a.attnum",
      table.quoted());
  for (const auto& row : rows) {
    columns.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str(), row[3].c_str(), row[4].as<std::uint32_t>()});
  }
  return columns;
}

bool table_exists(pqxx::work& query, const QualifiedName& table) {
  return !query.exec_params("SELECT to_regclass($1)", table.quoted())[0][0].is_null();
}

// The key columns a delete or update on the source sends of the old row, in index column
// order: the replica identity index's with REPLICA IDENTITY USING INDEX, else the primary
// key's (FULL sends every column, the primary key among them; NOTHING sends none).
std::vector<std::string> identity_columns(pqxx::work& query, const QualifiedName& table) {
  const auto rows = query.exec_params(
      "SELECT a.attname FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid "
      "JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position) ON true "
      "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
      "WHERE c.oid = to_regclass($1) AND CASE c.relreplident WHEN 'i' THEN i.indisreplident "
      "WHEN 'n' THEN false ELSE i.indisprimary END "
      "ORDER BY k.position",
      table.quoted());
  std::vector<std::string> columns;
  for (const auto& row : rows) {
    const std::string name = row[0].c_str();
    if (std::find(columns.begin(), columns.end(), name) == columns.end()) columns.push_back(name);
  }
  return columns;
}

std::string projection_of(const std::vector<TargetColumn>& columns, bool cast) {
  std::string sql;
  for (const auto& column : columns) {
    if (!sql.empty()) sql += ", ";
    sql += cast ? column.typed_expression() : "(" + column.expression + ")";
    sql += " AS " + quote_identifier(column.name);
  }
  return sql;
}

// `SELECT <select_list> FROM source` made a view in a transaction that is rolled back: the
// types of its columns, or the error. One statement through the extended protocol.
Result<std::vector<std::string>> view_types(pqxx::connection& source, const TableTransform& transform,
                                            const std::string& select_list) {
  try {
    pqxx::work trial(source);
    // A fenced side defaults to read-only transactions; a temporary view is no write to it.
    trial.exec("SET TRANSACTION READ WRITE");
    trial.exec_params("CREATE TEMP VIEW cutover_value_types AS SELECT " + select_list + " FROM " +
                      transform.source.quoted() + " AS " + quote_identifier(transform.source.name));
    std::vector<std::string> types;
    for (const auto& row : trial.exec_params(
             // A domain's base type: on green the value is read as that.
             "SELECT format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, "
             "CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END) FROM pg_attribute a "
             "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = 'cutover_value_types'::regclass "
             "AND a.attnum > 0 ORDER BY a.attnum")) {
      types.push_back(row[0].c_str());
    }
    trial.abort();
    return types;
  } catch (const std::exception& error) {
    // A lost connection or a deadlock is tried again; anything else is the expression's fault.
    return status_of(error, "");
  }
}

// Each column's value type and what its conversion to green's type can lose. A column that
// carries a source column is judged by that column's type: `code::varchar(10)` of a text
// column can lose what `code` held. Expressions that do not run are listed in `problems`.
Status fill_value_types(pqxx::connection& source, TableTransform& transform, const std::string& where,
                        const std::string& side, bool reverse, std::vector<std::string>& problems) {
  std::string select_list;
  for (const auto& column : transform.columns) {
    select_list += (select_list.empty() ? "" : ", ") + std::string("(") + column.expression + ")";
  }
  if (select_list.empty()) return Status::ok();
  auto types = view_types(source, transform, select_list);
  if (!types && types.status().is_retryable()) return types.status();
  for (std::size_t index = 0; index < transform.columns.size(); ++index) {
    TargetColumn& column = transform.columns[index];
    std::string expression_type;
    if (types && index < types->size()) {
      expression_type = (*types)[index];
    } else {
      // Which of them fails: each alone names its field.
      auto alone = view_types(source, transform, "(" + column.expression + ")");
      if (!alone) {
        if (alone.status().is_retryable()) return alone.status();
        problems.push_back(where + (reverse ? ".reverse.columns." : ".columns.") + column.name +
                           ": the transform of " + transform.source.text() +
                           " does not run on " + side + ": " + alone.status().message());
        continue;
      }
      expression_type = alone->front();
    }
    const SourceColumn* carried = nullptr;
    for (const auto& candidate : transform.source_columns) {
      if (candidate.name == column.carried_column) carried = &candidate;
    }
    if (!carried) column.carried_column.clear();
    column.value_type = carried ? carried->base_type : expression_type;
    column.loss = conversion_loss(column.value_type, column.sql_type);
  }
  return Status::ok();
}

}  // namespace

std::string TableTransform::projection() const { return projection_of(columns, false); }

std::string TableTransform::typed_projection() const { return projection_of(columns, true); }

std::vector<SourceColumn> TableTransform::columns_read() const {
  std::set<std::string> read = referenced_identifiers(where);
  for (const auto& column : columns) read.insert(column.reads.begin(), column.reads.end());
  // A whole-row reference (the table's name as a value) reads every column.
  if (read.count(source.name)) return source_columns;
  std::vector<SourceColumn> used;
  for (const auto& column : source_columns) {
    if (read.count(column.name)) used.push_back(column);
  }
  return used;
}

bool TableTransform::key_ordered_differently(const std::string& column) const {
  const auto found = key_collations.find(column);
  if (found == key_collations.end()) return false;  // not collatable: one order everywhere
  const auto& [on_source, on_target] = found->second;
  // A computed key, or a carried column without a collation (a number cast to text), has no
  // order on the source to share.
  return on_source.description.empty() || !on_source.same_order_as(on_target);
}

std::set<std::string> TableTransform::columns_reading(
    const std::set<std::string>& source_column_names) const {
  std::set<std::string> reading;
  for (const auto& column : columns) {
    for (const auto& identifier : column.reads) {
      if (source_column_names.count(identifier)) reading.insert(column.name);
    }
  }
  return reading;
}

bool TableTransform::needs_complete_row(const std::set<std::string>& unchanged) const {
  if (!where.empty()) return true;
  const auto reading = columns_reading(unchanged);
  return std::any_of(columns.begin(), columns.end(), [&](const TargetColumn& column) {
    return reading.count(column.name) && !column.plain_copy;
  });
}

std::vector<std::string> unwritten_required_columns(pqxx::connection& target_database,
                                                    const TableTransform& transform) {
  pqxx::nontransaction query(target_database);
  const auto rows = query.exec_params(
      "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 "
      "AND NOT attisdropped AND attnotnull AND NOT atthasdef AND attidentity = '' "
      "AND attgenerated = '' ORDER BY attnum",
      transform.target.quoted());
  std::vector<std::string> unwritten;
  for (const auto& row : rows) {
    const std::string name = row[0].c_str();
    const bool written = std::any_of(transform.columns.begin(), transform.columns.end(),
                                     [&](const TargetColumn& column) { return column.name == name; });
    if (!written) unwritten.push_back(name);
  }
  return unwritten;
}

Result<std::vector<TableTransform>> check_reverse_mapping(const Plan& reverse, pqxx::connection& green,
                                          pqxx::connection& blue) {
  auto mapped = resolve_transforms(reverse, green, blue);
  if (!mapped) return mapped.status().with_context("reverse mapping");
  std::string uncovered;
  try {
    for (const auto& transform : *mapped) {
      for (const auto& column : unwritten_required_columns(blue, transform)) {
        uncovered += (uncovered.empty() ? "" : ", ") + transform.target.text() + "." + column;
      }
    }
  } catch (const std::exception& error) {
    return status_of(error, "blue: reading NOT NULL columns");
  }
  if (!uncovered.empty()) {
    return Status::error("the reverse mapping leaves blue's NOT NULL columns without a default "
                         "unwritten: " + uncovered + " (add them to reverse.columns)");
  }
  return mapped;
}

std::vector<QualifiedName> targets_holding_rows(pqxx::connection& green,
                                                const std::vector<TableTransform>& transforms) {
  std::vector<QualifiedName> holding;
  pqxx::nontransaction query(green);
  for (const auto& transform : transforms) {
    if (std::find(holding.begin(), holding.end(), transform.target) != holding.end()) continue;
    if (query.exec("SELECT EXISTS (SELECT 1 FROM " + transform.target.quoted() + ")")[0][0].as<bool>()) {
      holding.push_back(transform.target);
    }
  }
  return holding;
}

TargetColumn make_target_column(std::string name, std::string expression, std::string sql_type) {
  TargetColumn column;
  column.name = std::move(name);
  column.expression = std::move(expression);
  column.sql_type = std::move(sql_type);
  column.carried_column = plain_source_column(column.expression);
  column.reads = referenced_identifiers(column.expression);
  if (column.reads.size() == 1) {
    const std::string& only = *column.reads.begin();
    column.plain_copy = column.expression == only || column.expression == quote_identifier(only);
  }
  return column;
}

std::set<std::string> referenced_identifiers(const std::string& expression) {
  std::set<std::string> identifiers;
  std::size_t at = 0;
  while (at < expression.size()) {
    const char character = expression[at];
    if (character == '\'') {
      // A string literal; '' inside it is an escaped quote.
      ++at;
      while (at < expression.size()) {
        if (expression[at] == '\'' && at + 1 < expression.size() && expression[at + 1] == '\'') {
          at += 2;
        } else if (expression[at] == '\'') {
          ++at;
          break;
        } else {
          ++at;
        }
      }
    } else if (character == '"') {
      std::string name;
      ++at;
      while (at < expression.size()) {
        if (expression[at] == '"' && at + 1 < expression.size() && expression[at + 1] == '"') {
          name += '"';
          at += 2;
        } else if (expression[at] == '"') {
          ++at;
          break;
        } else {
          name += expression[at++];
        }
      }
      identifiers.insert(name);
    } else if (std::isalpha(static_cast<unsigned char>(character)) || character == '_') {
      std::string word;
      while (at < expression.size() &&
             (std::isalnum(static_cast<unsigned char>(expression[at])) || expression[at] == '_' ||
              expression[at] == '$')) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(expression[at++])));
      }
      identifiers.insert(word);
    } else {
      ++at;
    }
  }
  return identifiers;
}

Result<std::vector<TableTransform>> resolve_transforms(const Plan& plan, pqxx::connection& blue,
                                                       pqxx::connection& green,
                                                       std::vector<std::string>* found_problems) {
  std::vector<TableTransform> transforms;
  std::vector<std::string> problems;
  std::map<std::string, std::set<std::string>> sources_of_target;
  for (const auto& mapping : plan.tables) {
    sources_of_target[mapping.target.text()].insert(mapping.source.text());
  }
  try {
    pqxx::work blue_query(blue);
    pqxx::work green_query(green);
    for (std::size_t index = 0; index < plan.tables.size(); ++index) {
      const TableMapping& mapping = plan.tables[index];
      const std::string where = "tables[" + std::to_string(index) + "]";
      if (!table_exists(blue_query, mapping.source)) {
        problems.push_back(where + ".source: table " + mapping.source.text() +
                           " does not exist on " + plan.source_side());
        continue;
      }
      if (!table_exists(green_query, mapping.target)) {
        problems.push_back(where + ".target: table " + mapping.target.text() +
                           " does not exist on " + plan.target_side() + " (create its schema first)");
        continue;
      }
      TableTransform transform;
      transform.plan_index = index;
      transform.source = mapping.source;
      transform.target = mapping.target;
      transform.where = mapping.where;
      transform.merged = sources_of_target[mapping.target.text()].size() > 1;
      transform.truncate_target_on_truncate =
          mapping.on_truncate == TruncateAction::kTruncateTarget ||
          (mapping.on_truncate == TruncateAction::kDefault && !transform.merged);
      const auto target_columns = table_columns(green_query, mapping.target);
      auto type_of = [&](const std::string& name) -> std::optional<std::string> {
        for (const auto& column : target_columns) {
          if (column.name == name) return column.sql_type;
        }
        return std::nullopt;
      };
      if (mapping.columns.empty()) {
        for (const auto& column : target_columns) {
          transform.columns.push_back(
              make_target_column(column.name, quote_identifier(column.name), column.sql_type));
        }
      } else {
        for (const auto& [name, expression] : mapping.columns) {
          auto type = type_of(name);
          if (!type) {
            const bool generated = !green_query.exec_params(
                "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 "
                "AND attgenerated <> '' AND NOT attisdropped", mapping.target.quoted(), name).empty();
            problems.push_back(where + ".columns." + name + ": " + plan.target_side() + "'s " +
                               mapping.target.text() +
                               (generated ? "." + name + " is a generated column, which " + plan.target_side() +
                                                " computes itself; remove it from columns"
                                          : " has no column " + name));
            continue;
          }
          transform.columns.push_back(make_target_column(name, expression, *type));
        }
      }
      transform.key = mapping.key.empty() ? identity_columns(green_query, mapping.target)
                                          : mapping.key;
      for (const auto& key_column : transform.key) {
        const bool mapped = std::any_of(transform.columns.begin(), transform.columns.end(),
                                        [&](const TargetColumn& column) { return column.name == key_column; });
        if (!type_of(key_column)) {
          problems.push_back(where + ".key: " + plan.target_side() + "'s " + mapping.target.text() +
                             " has no column " + key_column);
        } else if (!mapped) {
          problems.push_back(where + ".key: key column " + key_column +
                             " has no expression under columns");
        }
      }
      transform.source_key = identity_columns(blue_query, mapping.source);
      transform.source_columns = table_columns(blue_query, mapping.source);
      for (const auto& key_column : transform.key) {
        const auto column = std::find_if(transform.columns.begin(), transform.columns.end(),
                                         [&](const TargetColumn& candidate) { return candidate.name == key_column; });
        if (column == transform.columns.end() || !type_of(key_column)) continue;
        const Collation on_target = collation_of(green_query, mapping.target, key_column);
        if (on_target.description.empty()) continue;  // not a collatable type
        transform.key_collations[key_column] = {
            column->carried_column.empty() ? Collation{}
                                           : collation_of(blue_query, mapping.source, column->carried_column),
            on_target};
      }
      transform.source_oid =
          blue_query.exec_params1("SELECT to_regclass($1)::oid", mapping.source.quoted())[0].as<std::uint32_t>();
      transforms.push_back(std::move(transform));
    }
  } catch (const std::exception& error) {
    return status_of(error, "reading blue's and green's catalogs");
  }
  for (auto& transform : transforms) {
    const std::string where = "tables[" + std::to_string(transform.plan_index) + "]";
    if (auto filled = fill_value_types(blue, transform, where, plan.source_side(), plan.direction == Direction::kReverse, problems);
        !filled) {
      return filled.with_context("reading the transforms' types on " + plan.source_side());
    }
  }
  if (found_problems) {
    for (const auto& problem : problems) found_problems->push_back(plan.file + ": " + problem);
    return transforms;
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& problem : problems) {
      message += (message.empty() ? "" : "\n") + plan.file + ": " + problem;
    }
    return Status::error(message);
  }
  return transforms;
}

}  // namespace cutover
