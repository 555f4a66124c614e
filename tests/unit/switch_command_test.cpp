#include "cutover/orchestrator/switch_command.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace cutover {
namespace {

TEST(SwitchCommand, EveryToBecomesTheSideAndExitZeroIsSuccess) {
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("cutover-switch-command-" + std::to_string(::getpid()))).string();
  const Status ran = run_switch_command(
      {"/bin/sh", "-c", "echo \"$0 $1\" > " + out, "to-{to}", "{to}{to}"}, "green",
      std::chrono::seconds(5));
  ASSERT_TRUE(ran) << ran.message();
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), "to-green greengreen\n");
  std::filesystem::remove(out);
}

TEST(SwitchCommand, AFailureCarriesTheExitStatusAndTheOutput) {
  const Status failed = run_switch_command(
      {"/bin/sh", "-c", "echo pooler unreachable >&2; exit 7", "{to}"}, "blue", std::chrono::seconds(5));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.message().find("switch command to blue exited with 7"), std::string::npos) << failed.message();
  EXPECT_NE(failed.message().find("pooler unreachable"), std::string::npos) << failed.message();
}

TEST(SwitchCommand, AMissingProgramIsNamed) {
  const Status failed = run_switch_command({"/nonexistent/switch.sh", "{to}"}, "green", std::chrono::seconds(5));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.message().find("cannot run /nonexistent/switch.sh"), std::string::npos) << failed.message();
}

TEST(SwitchCommand, ACommandThatOutlivesItsTimeIsKilled) {
  const auto started = std::chrono::steady_clock::now();
  const Status failed = run_switch_command({"/bin/sh", "-c", "sleep 30", "{to}"}, "green", std::chrono::milliseconds(300));
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.message().find("did not finish within 300 ms and was killed"), std::string::npos)
      << failed.message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

}  // namespace
}  // namespace cutover
