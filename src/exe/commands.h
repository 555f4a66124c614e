// The subcommands of the cutover executable. Each wires modules together and returns the
// process exit code of INTERFACE.md: 0 success, 1 operation failed, 2 bad usage or plan.
#pragma once

#include <string>
#include <vector>

namespace cutover::commands {

constexpr int kSuccess = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;

struct BrokerOptions {
  int port = 0;  // 0: the embedded cluster's own port
  std::vector<std::string> topics;
  int partitions = 1;
};

int validate(const std::string& plan_path, bool connect);
int capture(const std::string& plan_path, bool drop_slot);
int run(const std::string& plan_path);
int apply(const std::string& plan_path);
int broker(const BrokerOptions& options);

// Set by SIGTERM and SIGINT; long-running commands stop cleanly when it is set.
void install_stop_handlers();

}  // namespace cutover::commands
