// TLS to PostgreSQL as the DSN says: blue accepts only TLS connections with a certificate from
// a test CA; `sslmode=verify-full` with that CA moves rows (the replication connection
// included), and the same DSN with another CA is refused before anything is created.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fixtures/forward_harness.h"
#include "fixtures/test_certificates.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

// Blue serves TLS with `certificates` and refuses every connection without it.
void require_tls(PostgresCluster& cluster, const TestCertificates& certificates) {
  const std::string certificate = cluster.data_directory() + "/server.crt";
  const std::string key = cluster.data_directory() + "/server.key";
  ASSERT_EQ(run_command({"cp", certificates.certificate, certificate}, false), 0);
  ASSERT_EQ(run_command({"cp", certificates.key, key}, false), 0);
  ::chmod(key.c_str(), 0600);
  if (running_as_root()) {
    ASSERT_EQ(run_command({"chown", "postgres", certificate, key}, false), 0);
  }
  cluster.execute("ALTER SYSTEM SET ssl = on");
  cluster.add_hba_rule_first("hostnossl all all 127.0.0.1/32 reject");
  EXPECT_EQ(cluster.query_value("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), "true");
}

TEST(Tls, VerifyFullWithTheRightCaMovesRowsAndAnotherCaIsRefused) {
  ForwardHarness h;
  const auto trusted = make_certificates(h.work(), "trusted");
  const auto other = make_certificates(h.work(), "other");
  require_tls(h.blue(), trusted);
  const std::string table = "CREATE TABLE items(id int PRIMARY KEY, v text)";
  h.blue().execute(table);
  h.green().execute(table);
  h.blue().execute("INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g");

  // Plain connections are refused: whatever works below went over TLS.
  ASSERT_THROW(pqxx::connection(h.blue().dsn() + " sslmode=disable"), std::exception);

  const auto plan_with_ca = [&h](const std::string& ca) {
    const std::string plan = h.write_plan("  - source: items\n", "state_dir: " + h.work().path() + "/state\n");
    h.replace_in_plan(h.blue().dsn(), h.blue().dsn() + " sslmode=verify-full sslrootcert=" + ca);
    return plan;
  };

  const std::string refused_plan = plan_with_ca(other.ca);
  ChildProcess refused({CUTOVER_BINARY, "validate", "--connect", refused_plan}, h.work().path());
  EXPECT_EQ(refused.wait(60s).value_or(-1), 2);
  EXPECT_NE(refused.standard_error().find("cannot connect to blue"), std::string::npos) << refused.standard_error();
  EXPECT_NE(refused.standard_error().find("certificate verify failed"), std::string::npos)
      << refused.standard_error();
  EXPECT_EQ(h.blue().query_number("SELECT count(*) FROM pg_replication_slots"), 0);

  plan_with_ca(trusted.ca);
  h.start_run();
  h.blue().execute("INSERT INTO items SELECT g, 'late' || g FROM generate_series(101, 150) g");
  EXPECT_TRUE(h.wait_until_equal("SELECT * FROM items", "SELECT * FROM items"));
  // The walsender streaming to cutover is a TLS connection too.
  EXPECT_EQ(h.blue().query_value("SELECT bool_and(s.ssl)::text FROM pg_stat_replication r "
                                 "JOIN pg_stat_ssl s USING (pid)"),
            "true");
}

}  // namespace
}  // namespace cutover::testing
