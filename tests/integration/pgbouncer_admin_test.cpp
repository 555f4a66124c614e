// PgbouncerAdmin against a real PgBouncer: PAUSE bounded by a deadline that never leaves the
// pooler paused, RESUME proven by SHOW DATABASES, and the include file switch.
#include "cutover/orchestrator/pgbouncer_admin.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "fixtures/pgbouncer.h"

namespace cutover::testing {
namespace {

std::string system_identifier(const std::string& dsn) {
  pqxx::connection connection(dsn);
  pqxx::nontransaction query(connection);
  return query.exec("SELECT system_identifier::text FROM pg_control_system()")[0][0].c_str();
}

TEST(PgbouncerAdmin, PausesAndResumesTheDatabase) {
  PostgresCluster blue;
  Pgbouncer pooler(blue);
  PgbouncerAdmin admin(pooler.admin_dsn(), "app");
  ASSERT_TRUE(admin.check());
  ASSERT_TRUE(admin.pause(std::chrono::seconds(5)));
  EXPECT_TRUE(admin.paused().value());
  ASSERT_TRUE(admin.resume());
  EXPECT_FALSE(admin.paused().value());
  // RESUME of a database that is not paused is not an error.
  EXPECT_TRUE(admin.resume());
  EXPECT_EQ(system_identifier(pooler.app_dsn()), system_identifier(blue.dsn()));
}

TEST(PgbouncerAdmin, APauseThatCannotFinishInTimeLeavesThePoolerResumed) {
  PostgresCluster blue;
  Pgbouncer pooler(blue);
  PgbouncerAdmin admin(pooler.admin_dsn(), "app");
  pqxx::connection long_running(pooler.app_dsn());
  pqxx::work transaction(long_running);
  transaction.exec("SELECT 1");  // holds a server connection until it ends

  const auto started = std::chrono::steady_clock::now();
  const Status paused = admin.pause(std::chrono::milliseconds(500));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  ASSERT_FALSE(paused);
  EXPECT_NE(paused.message().find("did not complete within 500 ms"), std::string::npos) << paused.message();
  EXPECT_FALSE(admin.paused().value());

  // Clients go on: the open transaction and a new one.
  transaction.exec("SELECT 2");
  transaction.commit();
  EXPECT_EQ(system_identifier(pooler.app_dsn()), system_identifier(blue.dsn()));
  // And a later PAUSE works as usual.
  ASSERT_TRUE(admin.pause(std::chrono::seconds(5)));
  ASSERT_TRUE(admin.resume());
}

TEST(PgbouncerAdmin, TheIncludeFileAndReloadMoveNewConnectionsToTheOtherServer) {
  PostgresCluster blue;
  PostgresCluster green;
  Pgbouncer pooler(blue);
  PgbouncerAdmin admin(pooler.admin_dsn(), "app");
  ASSERT_TRUE(admin.pause(std::chrono::seconds(5)));
  ASSERT_TRUE(write_pgbouncer_include(pooler.include_file(), "app", Pgbouncer::server_line(green)));
  ASSERT_TRUE(admin.reload());
  EXPECT_EQ(admin.server().value(), Pgbouncer::server_line(green));
  ASSERT_TRUE(admin.resume());
  EXPECT_EQ(system_identifier(pooler.app_dsn()), system_identifier(green.dsn()));
  EXPECT_NE(system_identifier(pooler.app_dsn()), system_identifier(blue.dsn()));
}

TEST(PgbouncerAdmin, AnUnreachableConsoleIsAnError) {
  PgbouncerAdmin admin("host=127.0.0.1 port=" + std::to_string(free_loopback_port()) +
                           " dbname=pgbouncer user=postgres connect_timeout=2",
                       "app");
  const Status checked = admin.check();
  ASSERT_FALSE(checked);
  EXPECT_NE(checked.message().find("pgbouncer admin console"), std::string::npos) << checked.message();
}

}  // namespace
}  // namespace cutover::testing
