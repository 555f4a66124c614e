// `cutover broker`: the embedded broker as a process, listed by kcat on its --port.
#include <gtest/gtest.h>

#include "fixtures/child_process.h"
#include "fixtures/temporary_directory.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

TEST(BrokerCommand, ServesOnItsPortUntilSigterm) {
  TemporaryDirectory work;
  const int port = free_loopback_port();
  ChildProcess broker({CUTOVER_BINARY, "broker", "--port", std::to_string(port), "--topic",
                       "cutover.x.changes"},
                      work.path());
  ASSERT_TRUE(broker.wait_for_output("embedded broker serving", 30s)) << broker.standard_error();
  EXPECT_EQ(broker.standard_output(), "127.0.0.1:" + std::to_string(port) + "\n");

  std::string listing;
  ASSERT_EQ(run_command({"kcat", "-L", "-b", "127.0.0.1:" + std::to_string(port), "-m", "10"},
                        false, &listing),
            0)
      << listing;
  EXPECT_NE(listing.find("topic \"cutover.x.changes\" with 1 partitions"), std::string::npos)
      << listing;

  broker.signal(SIGTERM);
  EXPECT_EQ(broker.wait(30s), 0);
}

TEST(BrokerCommand, PortInUseIsAClearError) {
  TemporaryDirectory work;
  const int port = free_loopback_port();
  ChildProcess first({CUTOVER_BINARY, "broker", "--port", std::to_string(port)}, work.path());
  ASSERT_TRUE(first.wait_for_output("embedded broker serving", 30s));
  ChildProcess second({CUTOVER_BINARY, "broker", "--port", std::to_string(port)}, work.path());
  EXPECT_EQ(second.wait(30s), 1);
  EXPECT_NE(second.standard_error().find("cannot listen on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << second.standard_error();
}

}  // namespace
}  // namespace cutover::testing
