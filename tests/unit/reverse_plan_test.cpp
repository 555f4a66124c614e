#include "cutover/plan/reverse_plan.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

Plan parse(const std::string& tables) {
  auto plan = parse_plan("name: accounts-v2\nblue:\n  dsn: \"host=blue dbname=app\"\n"
                         "green:\n  dsn: \"host=green dbname=app\"\n"
                         "sequences:\n  - source: public.users_id_seq\n    target: public.accounts_id_seq\n"
                         "tables:\n" + tables,
                         "plan.yaml");
  EXPECT_TRUE(plan) << plan.status().message();
  return *plan;
}

TEST(ReversePlan, PlainColumnsRenamesAndCastsTurnAround) {
  const Plan plan = parse(R"(  - source: public.users
    target: public.accounts
    columns:
      id: id::bigint
      full_name: name
      "Mail": CAST("E-mail" AS text)
  - source: public.orders
)");
  auto reverse = derive_reverse_plan(plan);
  ASSERT_TRUE(reverse) << reverse.status().message();
  EXPECT_EQ(reverse->source().dsn, "host=green dbname=app");
  EXPECT_EQ(reverse->target().dsn, "host=blue dbname=app");
  EXPECT_EQ(reverse->blue.dsn, "host=blue dbname=app") << "blue is always the user's blue";
  EXPECT_EQ(reverse->changes_topic(), "cutover.accounts-v2.reverse");
  EXPECT_EQ(reverse->slot_name(), "cutover_accounts_v2_reverse");
  EXPECT_NE(reverse->origin_name(), plan.origin_name());
  // Each direction's capture leaves out what the other direction's applier writes.
  EXPECT_EQ(plan.echo_origin_name(), reverse->origin_name());
  EXPECT_EQ(reverse->echo_origin_name(), plan.origin_name());
  ASSERT_EQ(reverse->tables.size(), 2u);
  EXPECT_EQ(reverse->tables[0].source.text(), "public.accounts");
  EXPECT_EQ(reverse->tables[0].target.text(), "public.users");
  const std::vector<std::pair<std::string, std::string>> expected{
      {"id", "\"id\""}, {"name", "\"full_name\""}, {"E-mail", "\"Mail\""}};
  EXPECT_EQ(reverse->tables[0].columns, expected);
  EXPECT_TRUE(reverse->tables[1].columns.empty());  // same shape both ways
  ASSERT_EQ(reverse->sequences.size(), 1u);
  EXPECT_EQ(reverse->sequences[0].source.text(), "public.accounts_id_seq");
  EXPECT_EQ(reverse->sequences[0].target.text(), "public.users_id_seq");
}

TEST(ReversePlan, ComputedColumnNeedsAnExplicitReverse) {
  const Plan computed = parse(R"(  - source: public.users
    target: public.accounts
    columns:
      id: id
      email_lower: lower(email)
)");
  auto refused = derive_reverse_plan(computed);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.status().message().find(
                "plan.yaml: tables[0].columns.email_lower: 'lower(email)' is computed"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("tables[0].reverse.columns"), std::string::npos);

  const Plan explicit_reverse = parse(R"(  - source: public.users
    target: public.accounts
    columns:
      id: id
      email_lower: lower(email)
    reverse:
      columns:
        id: id
        email: email_lower
)");
  auto reverse = derive_reverse_plan(explicit_reverse);
  ASSERT_TRUE(reverse) << reverse.status().message();
  const std::vector<std::pair<std::string, std::string>> expected{{"id", "id"}, {"email", "email_lower"}};
  EXPECT_EQ(reverse->tables[0].columns, expected);
}

TEST(ReversePlan, SplitsAndMergesHaveNoReverse) {
  auto split = derive_reverse_plan(parse(R"(  - source: public.users
    target: public.accounts
    columns: {id: id}
  - source: public.users
    target: public.profiles
    columns: {id: id}
  - source: public.a
    target: public.ab
  - source: public.b
    target: public.ab
)"));
  ASSERT_FALSE(split);
  const std::string message = split.status().message();
  EXPECT_NE(message.find("tables[0]: public.users is split"), std::string::npos) << message;
  EXPECT_NE(message.find("tables[1]: public.users is split"), std::string::npos) << message;
  EXPECT_NE(message.find("tables[3]: public.ab merges several sources"), std::string::npos) << message;
}

TEST(ReversePlan, PlainSourceColumnRecognisesOnlyRenamesAndCasts) {
  EXPECT_EQ(plain_source_column("id"), "id");
  EXPECT_EQ(plain_source_column(" ID :: bigint "), "id");
  EXPECT_EQ(plain_source_column("amount::numeric(12, 2)"), "amount");
  EXPECT_EQ(plain_source_column("tags::text[]"), "tags");
  EXPECT_EQ(plain_source_column("\"Odd\"\"Name\""), "Odd\"Name");
  EXPECT_EQ(plain_source_column("cast(created AS timestamp with time zone)"), "created");
  EXPECT_EQ(plain_source_column("lower(email)"), "");
  EXPECT_EQ(plain_source_column("a || b"), "");
  EXPECT_EQ(plain_source_column("coalesce(tier, 'free')"), "");
  EXPECT_EQ(plain_source_column("price * 100"), "");
  EXPECT_EQ(plain_source_column("'constant'"), "");
  EXPECT_EQ(plain_source_column("CAST(\"Total\" AS numeric(12,2)[])"), "Total");
  EXPECT_EQ(plain_source_column("cast(a as int) + 1"), "");
  EXPECT_EQ(plain_source_column("cast(f(a) as int)"), "");
  // Long plan text is read in one pass, never by recursion per character.
  EXPECT_EQ(plain_source_column(std::string(30000, 'c')), std::string(30000, 'c'));
  EXPECT_EQ(plain_source_column("cast(x as " + std::string(30000, 't') + ")"), "x");
}

}  // namespace
}  // namespace cutover
