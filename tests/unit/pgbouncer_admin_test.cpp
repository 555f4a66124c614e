// What the pooler's module reads from connection strings: whether PgBouncer's SHOW DATABASES
// names a side's server, and the client connection string through the pooler.
#include "cutover/orchestrator/pgbouncer_admin.h"

#include <gtest/gtest.h>

namespace cutover {
namespace {

TEST(PgbouncerAdmin, ShowDatabasesNamesASideByHostPortAndDatabase) {
  EXPECT_TRUE(names_same_server("host=10.0.0.5 port=5432 dbname=app", "host=10.0.0.5 dbname=app user=x"));
  EXPECT_TRUE(names_same_server("host=10.0.0.5 port=6000 dbname=app", "dbname=app port=6000 host=10.0.0.5"));
  EXPECT_FALSE(names_same_server("host=10.0.0.5 port=5432 dbname=app", "host=10.0.0.6 dbname=app"));
  EXPECT_FALSE(names_same_server("host=10.0.0.5 port=5432 dbname=app", "host=10.0.0.5 port=5433 dbname=app"));
  EXPECT_FALSE(names_same_server("host=10.0.0.5 port=5432 dbname=app", "host=10.0.0.5 dbname=app_v2"));
}

TEST(PgbouncerAdmin, ClientsConnectWithTheConsolesSettingsAndTheDatabasesName) {
  const PgbouncerAdmin pooler("host=127.0.0.1 port=6432 user=admin password='it\\'s' dbname=pgbouncer", "app");
  EXPECT_EQ(pooler.client_dsn(),
            "host='127.0.0.1' password='it\\'s' port='6432' user='admin' dbname='app'");
}

}  // namespace
}  // namespace cutover
