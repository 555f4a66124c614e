// A sample application moved for real: the film rental shop of tests/data/rental_shop (15
// tables, a domain, an enum, arrays, full-text search, a range-partitioned payment table,
// triggers, views, sequences) to a green schema with bigint keys, a renamed table with renamed
// and computed columns and payments re-partitioned by hash. The shop's own workload runs
// through PgBouncer the whole time; after a switch, its writes on green come back to blue and
// a rollback loses none. Each table is compared by SQL written here.
#include <fstream>
#include <sstream>

#include "fixtures/cutover_fixture.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

std::string shop_file(const std::string& name) {
  std::ifstream in(std::string(CUTOVER_SOURCE_DIR) + "/tests/data/rental_shop/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* const kShopTables[] = {"country", "city", "address", "language", "category", "actor", "film",
                                   "film_actor", "film_category", "store", "staff", "inventory", "rental"};

class SampleApplicationTest : public CutoverTest {
 protected:
  std::string shop_plan() {
    std::string tables;
    for (const char* table : kShopTables) tables += std::string("  - source: ") + table + "\n";
    tables +=
        "  - source: customer\n    target: client\n    columns:\n      client_id: customer_id\n"
        "      store_id: store_id\n      given_name: first_name\n      family_name: last_name\n"
        "      full_name: \"first_name || ' ' || last_name\"\n      email: email\n      address_id: address_id\n"
        "      activebool: activebool\n      create_date: create_date\n      last_update: last_update\n"
        "      active: active\n    reverse:\n      columns:\n        customer_id: client_id\n"
        "        store_id: store_id\n        first_name: given_name\n        last_name: family_name\n"
        "        email: email\n        address_id: address_id\n        activebool: activebool\n"
        "        create_date: create_date\n        last_update: last_update\n        active: active\n"
        "  - source: payment\n";
    return h_.write_plan(
        tables,
        "state_dir: " + h_.work().path() + "/state\nverify:\n  before_switch: none\nsequences:\n"
        "  - source: public.rental_rental_id_seq\n    target: public.rental_rental_id_seq\n"
        "  - source: public.payment_payment_id_seq\n    target: public.payment_payment_id_seq\n"
        "cutover:\n  max_lag: 60s\n  freeze_timeout: 5s\n  drain_timeout: 15s\n  switch:\n    pgbouncer:\n"
        "      admin_dsn: \"" + pooler_->admin_dsn() + "\"\n      database: app\n      include_file: " +
        pooler_->include_file() + "\n      blue: \"" + Pgbouncer::server_line(h_.blue()) + "\"\n      green: \"" +
        Pgbouncer::server_line(h_.green()) + "\"\n");
  }

  // The shop's workload through the pooler: rentals and payments, refunds and price changes.
  std::unique_ptr<ChildProcess> start_shop(int seconds) {
    const std::string scripts = std::string(CUTOVER_SOURCE_DIR) + "/tests/data/rental_shop/";
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{kPostgresBin + "pgbench", "-n", "-h", "127.0.0.1", "-p",
                                 std::to_string(pooler_->port()), "-U", "postgres", "-c", "4", "-j", "2",
                                 "-T", std::to_string(seconds), "-R", "60", "-f", scripts + "workload.sql@9",
                                 "-f", scripts + "workload_admin.sql@1", "app"},
        h_.work().path());
  }

  // Every table of the shop on both sides, through the plan's mapping, by SQL of this test.
  void expect_shop_equal(const char* after) {
    for (const char* table : kShopTables) {
      const std::string all = std::string("SELECT * FROM ") + table;
      EXPECT_TRUE(h_.wait_until_equal(all, all, 60s)) << table << " after " << after;
    }
    EXPECT_TRUE(h_.wait_until_equal(
        "SELECT customer_id, store_id, first_name, last_name, first_name || ' ' || last_name, email, address_id, "
        "activebool, create_date, last_update, active FROM customer",
        "SELECT client_id, store_id, given_name, family_name, full_name, email, address_id, activebool, "
        "create_date, last_update, active FROM client",
        60s))
        << "customer after " << after;
    const std::string payments = "SELECT payment_id, customer_id, staff_id, rental_id, amount, paid_at FROM payment";
    EXPECT_TRUE(h_.wait_until_equal(payments, payments, 60s)) << "payment after " << after;
  }
};

TEST_F(SampleApplicationTest, TheRentalShopMovesSwitchesAndRollsBackUnderItsOwnWorkload) {
  h_.blue().execute(shop_file("blue.sql"));
  h_.green().execute(shop_file("green.sql"));
  const std::string plan = shop_plan();
  ChildProcess validation({CUTOVER_BINARY, "validate", "--connect", plan}, h_.work().path());
  ASSERT_EQ(validation.wait(60s).value_or(-1), 0) << validation.standard_error();
  // The plan moves the two sequences the workload draws from; the others are said.
  const std::string said = validation.standard_error();
  EXPECT_NE(said.find("green's public.country.country_id takes its default from sequence public.country_country_id_seq, "
                      "which the plan's sequences do not list"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("sequence public.rental_rental_id_seq, which"), std::string::npos) << said;
  EXPECT_EQ(said.find("sequence public.payment_payment_id_seq, which"), std::string::npos) << said;
  h_.start_run();
  expect_shop_equal("the snapshot");
  expect_verification_clean("the snapshot");

  auto shop = start_shop(45);
  std::this_thread::sleep_for(5s);
  const auto switched = h_.cli({"switch"});
  ASSERT_EQ(switched.exit_code, 0) << switched.errors << switched.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.green()));
  ASSERT_TRUE(wait_for_direction("reverse")) << h_.run().standard_error();
  std::this_thread::sleep_for(8s);
  expect_verification_clean("the switch");

  const auto rolled_back = h_.cli({"rollback"});
  ASSERT_EQ(rolled_back.exit_code, 0) << rolled_back.errors << rolled_back.output.dump(2) << h_.run().standard_error();
  EXPECT_EQ(system_reached(), system_of(h_.blue()));
  ASSERT_TRUE(wait_for_direction("forward")) << h_.run().standard_error();

  EXPECT_EQ(shop->wait(120s).value_or(-1), 0) << shop->standard_error();
  const std::string report = shop->standard_output();
  EXPECT_EQ(number_after(report, "number of failed transactions"), 0) << report;
  EXPECT_GT(number_after(report, "number of transactions actually processed"), 500) << report;
  std::cerr << "[ MEASURED ] shop transactions " << number_after(report, "number of transactions actually processed")
            << ", switch " << switched.output["timings"].dump() << ", rollback " << rolled_back.output["timings"].dump()
            << "\n";
  expect_shop_equal("the rollback");
  expect_verification_clean("the rollback");
  // The sequences followed: a rental made now gets an id past every rental on both sides.
  // (Read first: the forward pipeline soon brings the new row to green too.)
  const long highest_on_green = h_.green().query_number("SELECT max(rental_id) FROM rental");
  const long fresh = std::stol(through_pooler(
      "INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id) VALUES (now(), 1, 1, 1) RETURNING rental_id"));
  EXPECT_GT(fresh, highest_on_green);
}

}  // namespace
}  // namespace cutover::testing
