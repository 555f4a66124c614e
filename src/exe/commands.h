// The subcommands of the cutover executable. Each wires modules together and returns the
// process exit code of INTERFACE.md: 0 success, 1 operation failed or refused, 2 bad usage or
// plan, 3 cannot reach the service.
#pragma once

#include <string>
#include <vector>

namespace cutover::commands {

constexpr int kSuccess = 0;
constexpr int kFailed = 1;
constexpr int kBadInput = 2;
constexpr int kUnreachable = 3;

// How the commands that talk to a running `cutover run` find it.
struct ControlOptions {
  std::string url = "http://127.0.0.1:7800";
  std::string token;  // default: $CUTOVER_TOKEN
  bool json = false;  // print the service's JSON instead of a human table
};

struct BrokerOptions {
  int port = 0;  // 0: the embedded cluster's own port
  std::vector<std::string> topics;
  int partitions = 1;
};

// Problems on stderr (or, with `json`, everything as one JSON object on stdout).
int validate(const std::string& plan_path, bool connect, bool json);
int capture(const std::string& plan_path, bool drop_slot);
// Removes what the plan holds on both sides, the brokers and this machine (plan_cleanup.h);
// with `dry_run`, lists it.
int cleanup(const std::string& plan_path, bool dry_run);
int run(const std::string& plan_path);
int apply(const std::string& plan_path);
int broker(const BrokerOptions& options);
// Runs the quickstart script with this binary; returns only when it cannot start it.
int demo(const std::string& script, int seconds);
int status(const ControlOptions& options);
int verify(const ControlOptions& options);
int switch_over(const ControlOptions& options, bool dry_run, bool force_without_rollback);
int roll_back(const ControlOptions& options, bool dry_run);
// `cutover pause` (pause true) and `cutover resume`.
int pause_streaming(const ControlOptions& options, bool pause);
int abort_cutover(const ControlOptions& options);

// Set by SIGTERM and SIGINT; long-running commands stop cleanly when it is set.
void install_stop_handlers();

}  // namespace cutover::commands
