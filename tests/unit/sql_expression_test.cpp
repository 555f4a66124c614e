#include "cutover/plan/sql_expression.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(SingleExpression, AcceptsExpressionsWithLiteralsNamesAndParentheses) {
  for (const std::string text :
       {"id", "lower(email)", "coalesce(tier, 'free')", "'it''s; -- not a comment (' || name",
        "\"odd;name\" || E'\\'); DROP'", "$$ ; ) -- $$ || $tag$ /* $tag$", "a$b + $1",
        "price * (1 + tax) / 100", "x::numeric(12, 2)", "a - -b", "a / b"}) {
    EXPECT_EQ(single_expression_problem(text), std::nullopt) << text;
  }
}

TEST(SingleExpression, RefusesWhatWouldLeaveTheExpression) {
  const std::pair<std::string, std::string> cases[] = {
      {"1) AS x FROM users; COMMIT; DROP TABLE victim; SELECT (1", "a ')' closes more than the expression opened"},
      {"true; DROP TABLE victim", "a ';' would end the statement"},
      {"true --", "a '--' comment would hide the rest of the statement"},
      {"1 /* hidden", "a '/* */' comment is not allowed"},
      {"(1", "a '(' is not closed"},
      {"'open", "a '...' string literal is not closed"},
      {"E'open\\'", "an E'...' string literal is not closed"},
      {"\"open", "a \"...\" quoted name is not closed"},
      {"$x$ open", "a $x$...$x$ string is not closed"},
      {"'a\\' || ') ; DROP TABLE victim; SELECT (' || '", "a backslash inside a '...' literal"},
  };
  for (const auto& [text, reason] : cases) {
    const auto problem = single_expression_problem(text);
    ASSERT_TRUE(problem) << text;
    EXPECT_NE(problem->find(reason), std::string::npos) << text << ": " << *problem;
  }
}

TEST(SingleExpression, ReadsLongTextInOnePass) {
  EXPECT_EQ(single_expression_problem(std::string(100000, '(') + std::string(100000, ')')), std::nullopt);
  EXPECT_TRUE(single_expression_problem(std::string(100000, '(')));
}

}  // namespace
}  // namespace cutover
