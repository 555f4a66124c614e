#include "commands.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cutover/capture/slot_manager.h"
#include "cutover/common/durable_file.h"
#include "cutover/common/postgres_connection.h"
#include "cutover/common/logging.h"
#include "cutover/common/periodic.h"
#include "cutover/control/control_api.h"
#include "cutover/control/http_server.h"
#include "cutover/pipeline/connected_validation.h"
#include "cutover/pipeline/directed_pipeline.h"
#include "cutover/pipeline/forward_pipeline.h"
#include "cutover/pipeline/plan_cleanup.h"
#include "cutover/plan/reverse_plan.h"
#include "cutover/plan/plan.h"
#include "cutover/transport/embedded_broker.h"
#include "cutover/transport/tcp_forwarder.h"
#include "cutover/transport/topic_admin.h"

namespace cutover::commands {

namespace {

// SIGTERM, SIGINT and SIGHUP stop the command. The handler only writes a byte to a pipe
// (what a signal handler may do); a thread reading the pipe requests the stop, which wakes
// every thread waiting on it.
StopSignal& stop_requested() {
  static StopSignal stop;
  return stop;
}
int stop_pipe[2] = {-1, -1};

void request_stop(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = ::write(stop_pipe[1], &byte, 1);
}

int report(const Status& status, int code) {
  std::cerr << "cutover: " << status.message() << "\n";
  return code;
}


}  // namespace

void install_stop_handlers() {
  if (::pipe2(stop_pipe, O_CLOEXEC) != 0) {
    std::cerr << "cutover: cannot create the stop pipe: " << std::strerror(errno) << "\n";
    std::exit(kFailed);
  }
  std::thread([] {
    char byte = 0;
    while (::read(stop_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    stop_requested().request();
  }).detach();
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  // A hangup (a closed terminal or ssh session) stops as cleanly as SIGTERM; the log goes to
  // stderr, so there is no file to reopen.
  sigaction(SIGHUP, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

namespace {
// The plan, with its search_path given to every session opened from now on.
Result<Plan> load_plan_for_sessions(const std::string& path) {
  auto plan = load_plan(path);
  if (plan) set_expression_schemas(plan->search_path);
  return plan;
}

// What the plan asks of this machine: a state directory cutover may keep to itself.
Status check_local_settings(const Plan& plan) {
  if (auto problem = state_directory_problem(plan.state_dir)) {
    return Status::invalid(plan.file + ": state_dir: " + *problem);
  }
  return Status::ok();
}
}  // namespace

namespace {
// What `cutover validate` found, to print as lines or as one JSON object.
struct ValidationFindings {
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;
  std::string plan_name;
  std::size_t tables = 0;
};

// A refusal's message holds one problem a line.
void add_problems(const Status& refused, std::vector<std::string>& problems) {
  std::istringstream lines(refused.message());
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) problems.push_back(line);
  }
}

ValidationFindings find_plan_problems(const std::string& plan_path, bool connect) {
  ValidationFindings found;
  auto plan = load_plan_for_sessions(plan_path);
  if (!plan) {
    add_problems(plan.status(), found.problems);
    return found;
  }
  found.plan_name = plan->name;
  found.tables = plan->tables.size();
  if (auto local = check_local_settings(*plan); !local) {
    add_problems(local, found.problems);
    return found;
  }
  if (connect) {
    auto checked = check_plan_against_databases(*plan);
    found.problems = std::move(checked.problems);
    found.warnings = std::move(checked.warnings);
    found.notes = std::move(checked.notes);
  }
  return found;
}
}  // namespace

int validate(const std::string& plan_path, bool connect, bool json) {
  const ValidationFindings found = find_plan_problems(plan_path, connect);
  const bool valid = found.problems.empty();
  if (json) {
    std::cout << nlohmann::json{{"plan_file", plan_path},
                                {"valid", valid},
                                {"connected", connect},
                                {"plan", found.plan_name.empty() ? nlohmann::json() : nlohmann::json(found.plan_name)},
                                {"tables", found.tables},
                                {"problems", found.problems},
                                {"warnings", found.warnings},
                                {"notes", found.notes}}
                     .dump(2)
              << "\n";
    return valid ? kSuccess : kBadInput;
  }
  for (const auto& problem : found.problems) std::cerr << "cutover: " << problem << "\n";
  for (const auto& warning : found.warnings) std::cerr << "cutover: warning: " << warning << "\n";
  for (const auto& note : found.notes) std::cerr << "cutover: note: " << note << "\n";
  if (!valid) return kBadInput;
  std::cout << plan_path << ": valid plan " << found.plan_name << " (" << found.tables << " tables)"
            << (connect ? ", fits blue and green" : "") << "\n";
  return kSuccess;
}

int cleanup(const std::string& plan_path, bool dry_run) {
  auto plan = load_plan_for_sessions(plan_path);
  if (!plan) return report(plan.status(), kBadInput);
  const PlanHoldings found = find_plan_holdings(*plan);
  for (const auto& left : found.left) std::cout << "left as it is: " << left << "\n";
  for (const auto& unreachable : found.unreachable) std::cerr << "cutover: cannot look: " << unreachable << "\n";
  for (const auto& reason : found.in_use) std::cerr << "cutover: in use: " << reason << "\n";
  const bool refused = !found.in_use.empty() || !found.unreachable.empty();
  for (const auto& holding : found.holdings) {
    std::cout << (dry_run || refused ? "holds: " : "removing: ") << holding.side << ": " << holding.description << "\n";
    if (dry_run || refused) continue;
    if (auto removed = holding.remove(); !removed) {
      std::cerr << "cutover: " << removed.message() << "\nwhat is left stays; run cutover cleanup again once it is fixed\n";
      return kFailed;
    }
  }
  if (refused) {
    std::cerr << "cutover: nothing was removed\n";
    return kFailed;
  }
  if (found.holdings.empty()) {
    std::cout << "plan " << plan->name << " holds nothing on blue, green, the brokers or this machine\n";
  } else if (!dry_run) {
    std::cout << "plan " << plan->name << " holds nothing any more; green's tables are as they were\n";
  }
  return kSuccess;
}

int capture(const std::string& plan_path, bool drop_slot) {
  auto loaded = load_plan_for_sessions(plan_path);
  if (!loaded) return report(loaded.status(), kBadInput);
  const Plan& plan = *loaded;
  if (drop_slot) {
    if (auto dropped = drop_slot_and_publication(plan); !dropped) return report(dropped, kFailed);
    return kSuccess;
  }
  if (const Status outcome = run_capture_only(plan, stop_requested()); !outcome) {
    return report(outcome, outcome.is_invalid() ? kBadInput : kFailed);
  }
  return kSuccess;
}

namespace {
// How often `cutover run` looks at what the plan holds on both sides, for status.
constexpr auto kHoldingsInterval = std::chrono::seconds(15);

// `cutover run` and `cutover apply`: the plan, one pipeline function, its outcome.
// `cutover run` also serves the control API for as long as it runs.
using PipelineRunner = std::function<Status(const Plan& plan, const Result<Plan>& reverse,
                                           PipelineStatus&, StopSignal&)>;
int run_pipeline(const std::string& plan_path, const char* command, const PipelineRunner& pipeline,
                 bool serve_control) {
  auto plan = load_plan_for_sessions(plan_path);
  if (!plan) return report(plan.status(), kBadInput);
  if (auto local = check_local_settings(*plan); !local) return report(local, kBadInput);
  PipelineStatus status;
  const Result<Plan> reverse = derive_reverse_plan(*plan);
  VerificationService verification(*plan, reverse, status.apply_hold, status.running);
  CutoverRunner cutover(*plan, reverse, status, verification, make_move_seams(*plan, reverse, status));
  ControlApi api(*plan, status, verification, cutover);
  std::unique_ptr<HttpServer> control;
  if (serve_control) {
    // A cutover that a crash cut short is finished or undone before anything else runs.
    if (auto recovered = cutover.recover(); !recovered) return report(recovered, kFailed);
    auto server = HttpServer::start(plan->control.listen,
                                    [&api](const HttpRequest& request) { return api.handle(request); });
    if (!server) return report(server.status(), kFailed);
    control = std::move(server.value());
    spdlog::info("control listening url=http://{}", control->address());
  }
  spdlog::info("{} starting plan={} topic={}", command, plan->name, plan->changes_topic());
  std::unique_ptr<Periodic> holdings_watch;
  std::unique_ptr<Periodic> lag_sampler;
  if (serve_control) {
    holdings_watch = std::make_unique<Periodic>(kHoldingsInterval, [&plan, &status] {
      status.holdings.set(find_plan_holdings(*plan, false));
    });
    lag_sampler = std::make_unique<Periodic>(LagHistory::kInterval, [&status] {
      const Lag lag = current_lag(status);
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      status.lag_history.add({std::chrono::duration_cast<std::chrono::milliseconds>(now).count(), lag.seconds, lag.bytes});
    });
  }
  const Status outcome = pipeline(*plan, reverse, status, stop_requested());
  holdings_watch.reset();
  lag_sampler.reset();
  if (!outcome) return report(outcome, outcome.is_invalid() ? kBadInput : kFailed);
  spdlog::info("{} stopped applied_lsn={} transactions={} rows={}", command,
               Lsn(status.apply.applied_lsn).to_string(), status.apply.transactions.load(),
               status.apply.rows.load());
  return kSuccess;
}
}  // namespace

int run(const std::string& plan_path) {
  return run_pipeline(plan_path, "run", run_directed, true);
}

int apply(const std::string& plan_path) {
  return run_pipeline(
      plan_path, "apply",
      [](const Plan& plan, const Result<Plan>&, PipelineStatus& status, StopSignal& stop) {
        return run_apply_only(plan, status, stop);
      },
      false);
}

int demo(const std::string& script, int seconds) {
  // The demo drives real servers and processes from a shell script kept with the sources;
  // this binary hands over to it, so that the script tests exactly this build.
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  std::vector<std::filesystem::path> candidates;
  if (!script.empty()) candidates.emplace_back(script);
  if (const char* from_environment = std::getenv("CUTOVER_DEMO_SCRIPT")) candidates.emplace_back(from_environment);
  candidates.push_back(self.parent_path() / ".." / "scripts" / "demo");
  candidates.push_back(self.parent_path() / ".." / "share" / "cutover" / "demo");
  for (const auto& candidate : candidates) {
    if (!std::filesystem::exists(candidate)) continue;
    ::setenv("CUTOVER_BIN", self.c_str(), 1);
    ::setenv("DEMO_SECONDS", std::to_string(seconds).c_str(), 1);
    const std::string path = candidate.string();
    ::execl("/bin/bash", "bash", path.c_str(), static_cast<char*>(nullptr));
    return report(Status::error("cannot run " + path + ": " + std::strerror(errno)), kFailed);
  }
  return report(Status::error("the demo script is not found (looked for --script, $CUTOVER_DEMO_SCRIPT, "
                              "scripts/demo next to the build, share/cutover/demo)"),
                kBadInput);
}

int broker(const BrokerOptions& options) {
  // Three brokers, so that its topics have the three replicas slot_advance: on_kafka_ack asks
  // of a cluster (it is a test double: they are all in this process's memory).
  auto started = EmbeddedBroker::start(3);
  if (!started) return report(started.status(), kFailed);
  auto& embedded = **started;
  for (const auto& topic : options.topics) {
    if (auto created = embedded.create_topic(topic, options.partitions); !created) {
      return report(created, kFailed);
    }
  }
  std::unique_ptr<TcpForwarder> forwarder;
  std::string address = embedded.bootstrap();
  if (options.port != 0) {
    // To the first broker: clients learn the others' addresses from its metadata.
    const std::string first = embedded.bootstrap().substr(0, embedded.bootstrap().find(','));
    auto forwarding = TcpForwarder::start(options.port, first);
    if (!forwarding) return report(forwarding.status(), kFailed);
    forwarder = std::move(forwarding.value());
    address = "127.0.0.1:" + std::to_string(forwarder->port());
  }
  std::cout << address << std::endl;
  spdlog::info("embedded broker serving bootstrap={} topics={}", address, options.topics.size());
  stop_requested().wait();
  spdlog::info("embedded broker stopping");
  return kSuccess;
}

}  // namespace cutover::commands
