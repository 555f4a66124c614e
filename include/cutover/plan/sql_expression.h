// The one rule for plan text that reaches SQL: a column expression, a row filter or a reverse
// expression must be one SQL expression and nothing else.
//
// cutover pastes these into statements it builds, inside parentheses: `SELECT (<expr>) AS c
// FROM source WHERE (<filter>) AND <chunk range>`. Text that closed those parentheses, ended
// the statement, or commented out the rest could read other tables, drop the chunk range or
// run statements of its own. The plan loader calls this on every such text, and the servers
// see plan text only through the extended protocol, which runs one statement at most.
#pragma once

#include <optional>
#include <string>

namespace cutover {

// Nothing when `text` is one expression as far as its lexical structure goes: every literal,
// quoted identifier and parenthesis closed inside it, no ';' and no comment outside literals,
// and no backslash in a standard '...' literal (whose meaning standard_conforming_strings
// decides). Otherwise why not, for the plan's error message.
std::optional<std::string> single_expression_problem(const std::string& text);

}  // namespace cutover
