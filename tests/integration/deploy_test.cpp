// docker-compose.yml's usage runs as written: its pgbench line, taken from the file itself,
// drives the compose file's own schema (deploy/blue-init) with no failed transaction. No
// Docker engine runs here, so a PostgreSQL of this machine stands in for the compose file's
// blue, on its own port.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/forward_harness.h"

namespace cutover::testing {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The compose file's pgbench command: the words of its usage line, without the comment.
std::vector<std::string> compose_pgbench_line() {
  std::istringstream lines(file_text(CUTOVER_SOURCE_DIR "/docker-compose.yml"));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" pgbench ") == std::string::npos) continue;
    line = line.substr(line.find_first_not_of("# "));
    if (const auto comment = line.find("  #"); comment != std::string::npos) line.erase(comment);
    std::istringstream words(line);
    std::vector<std::string> argv;
    for (std::string word; words >> word;) argv.push_back(word);
    return argv;
  }
  return {};
}

TEST(Deploy, TheComposeFilesLoadLineRunsAgainstItsSchema) {
  std::vector<std::string> argv = compose_pgbench_line();
  ASSERT_GE(argv.size(), 4u) << "no pgbench line in docker-compose.yml";
  PostgresCluster blue;
  blue.execute("CREATE ROLE app LOGIN SUPERUSER PASSWORD 'app-password'");
  blue.execute("CREATE DATABASE app OWNER app");
  blue.execute(file_text(CUTOVER_SOURCE_DIR "/deploy/blue-init/schema.sql"), "app");
  const long orders_before = std::stol(blue.query_value("SELECT count(*) FROM orders", "app"));
  // As written, but for 3 seconds, and to this machine's server instead of PgBouncer's port.
  std::vector<std::string> command;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (word.rfind("PGPASSWORD=", 0) == 0) {
      ::setenv("PGPASSWORD", word.substr(11).c_str(), 1);
    } else if (word == "pgbench") {
      command.push_back(kPostgresBin + "pgbench");
    } else if (i > 0 && argv[i - 1] == "-T") {
      command.push_back("3");
    } else if (i > 0 && argv[i - 1] == "-p") {
      command.push_back(std::to_string(blue.port()));
    } else if (i > 0 && argv[i - 1] == "-f") {
      command.push_back(CUTOVER_SOURCE_DIR "/" + word);  // the usage runs from the repository's root
    } else {
      command.push_back(word);
    }
  }
  TemporaryDirectory work{"cutover-deploy"};
  ChildProcess load(command, work.path());
  EXPECT_EQ(load.wait(std::chrono::seconds(60)).value_or(-1), 0) << load.standard_output() << load.standard_error();
  ::unsetenv("PGPASSWORD");
  EXPECT_NE(load.standard_output().find("number of failed transactions: 0 "), std::string::npos)
      << load.standard_output();
  EXPECT_GT(std::stol(blue.query_value("SELECT count(*) FROM orders", "app")), orders_before + 10);
}

}  // namespace
}  // namespace cutover::testing
