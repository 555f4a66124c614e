#include "cutover/orchestrator/switch_command.h"

#include "cutover/orchestrator/command_router.h"

#include <gtest/gtest.h>

#include <fcntl.h>
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

// The command inherits nothing of cutover's but its standard streams: a pooler or daemon it
// starts must not keep cutover's control port or its database connections open.
TEST(SwitchCommand, TheCommandInheritsNoOtherDescriptor) {
  const int inheritable = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as a library's socket may be
  ASSERT_GE(inheritable, 3);
  const Status ran = run_switch_command(
      {"/bin/sh", "-c", "if [ -e /proc/$$/fd/" + std::to_string(inheritable) + " ]; then echo inherited; exit 9; fi",
       "{to}"},
      "green", std::chrono::seconds(5));
  ::close(inheritable);
  EXPECT_TRUE(ran) << ran.message();
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

// The command as a client router: it points clients by running the command, cannot tell where
// they are, and holds them only through the pooler it is given.
class HoldingPooler : public ClientRouter {
 public:
  std::vector<Guardrail> guardrails() const override { return {{"pooler_reachable", true, "reachable", "reachable"}}; }
  Status pause(std::chrono::milliseconds) override {
    paused = true;
    return Status::ok();
  }
  Status resume() override {
    paused = false;
    return Status::ok();
  }
  Status check_still_paused() const override { return paused ? Status::ok() : Status::error("not paused"); }
  Result<std::vector<int>> held_server_pids() const override { return std::vector<int>{7}; }
  Status point_at(Side, const std::function<void()>&) override { return Status::error("the pooler does not point"); }
  Result<std::optional<Side>> pointed_at() const override { return std::optional<Side>(Side::kBlue); }
  Result<std::string> client_system_identifier() const override { return std::string("42"); }
  bool paused = false;
};

TEST(CommandRouter, PointsByRunningTheCommandAndHoldsClientsOnlyThroughItsPooler) {
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("cutover-command-router-" + std::to_string(::getpid()))).string();
  auto pooler = std::make_unique<HoldingPooler>();
  HoldingPooler& held = *pooler;
  CommandRouter router({"/bin/sh", "-c", "echo \"$0\" > " + out, "{to}"}, std::chrono::seconds(5), std::move(pooler));
  ASSERT_TRUE(router.pause(std::chrono::seconds(1)));
  EXPECT_TRUE(held.paused);
  ASSERT_TRUE(router.point_at(Side::kGreen, {}));
  std::ifstream file(out);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), "green\n");
  std::filesystem::remove(out);
  const auto pointed = router.pointed_at();
  ASSERT_TRUE(pointed);
  EXPECT_FALSE(pointed->has_value()) << "a command cannot tell where clients are";
  EXPECT_EQ(router.client_system_identifier().value(), "42");
  EXPECT_EQ(router.held_server_pids().value(), std::vector<int>{7});
  const auto guardrails = router.guardrails();
  ASSERT_EQ(guardrails.size(), 2U);
  EXPECT_EQ(guardrails[0].name, "pooler_reachable");
  EXPECT_EQ(guardrails[1].name, "switch_command");
  EXPECT_TRUE(guardrails[1].passed);
}

TEST(CommandRouter, WithoutAPoolerNothingIsHeldAndWhereClientsLandIsNotChecked) {
  CommandRouter router({"/nonexistent/switch-clients", "{to}"}, std::chrono::seconds(5), nullptr);
  EXPECT_TRUE(router.pause(std::chrono::seconds(1)));
  EXPECT_TRUE(router.check_still_paused());
  const auto reached = router.client_system_identifier();
  ASSERT_FALSE(reached);
  EXPECT_NE(reached.status().message().find("not checked"), std::string::npos);
  const auto guardrails = router.guardrails();
  ASSERT_EQ(guardrails.size(), 1U);
  EXPECT_FALSE(guardrails[0].passed) << "a program that does not exist";
  EXPECT_FALSE(router.point_at(Side::kBlue, {}));
}

}  // namespace
}  // namespace cutover
