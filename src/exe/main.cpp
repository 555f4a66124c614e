// The cutover executable: parses the command line and hands over to one command.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "commands.h"
#include "completion.h"
#include "cutover/common/build_info.h"
#include "cutover/common/logging.h"

int main(int argc, char** argv) {
  using namespace cutover;
  CLI::App app{"cutover: move a live PostgreSQL database to a new schema with no lost writes"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cutover " + cutover_version() + " (commit " + cutover_commit() + ")");

  std::string log_format;
  app.add_option("--log-format", log_format, "Log lines as text (the default) or json (default: $CUTOVER_LOG_FORMAT)")
      ->check(CLI::IsMember({"text", "json"}));
  // Taken after the command's name as well as before it.
  app.fallthrough();

  std::string plan_path;
  bool drop_slot = false;
  commands::BrokerOptions broker_options;

  auto* validate = app.add_subcommand("validate", "Check a plan file; exit 0 valid, 2 invalid");
  validate->add_option("PLAN", plan_path, "The cutover plan (YAML)")->required();
  bool connect = false;
  validate->add_flag("--connect", connect,
                     "Also check the plan against blue and green (reads only, creates nothing)");
  bool validate_json = false;
  validate->add_flag("--json", validate_json,
                     "Print {valid, plan, tables, problems, warnings, notes} as JSON on stdout");

  auto* capture = app.add_subcommand(
      "capture", "Capture alone: stream blue's changes into the Kafka change log");
  capture->add_option("PLAN", plan_path, "The cutover plan (YAML)")->required();
  capture->add_flag("--drop-slot", drop_slot,
                    "Drop the plan's replication slot and publication on blue, then exit");

  bool dry_run_cleanup = false;
  auto* cleanup = app.add_subcommand(
      "cleanup", "Remove what the plan made on blue, green, the brokers and this machine (slots, publications, "
                 "origins, position records, fences, topics, journal); green's tables stay");
  cleanup->add_option("PLAN", plan_path, "The cutover plan (YAML)")->required();
  cleanup->add_flag("--dry-run", dry_run_cleanup, "List what would be removed, and what stops it; remove nothing");

  auto* run = app.add_subcommand(
      "run", "Run the plan: snapshot when green is empty, then stream blue's changes to green");
  run->add_option("PLAN", plan_path, "The cutover plan (YAML)")->required();

  auto* apply = app.add_subcommand("apply", "Apply alone: the Kafka change log into green");
  apply->add_option("PLAN", plan_path, "The cutover plan (YAML)")->required();

  std::string demo_script;
  int demo_seconds = 60;
  auto* demo = app.add_subcommand(
      "demo", "The quickstart: local blue, green and PgBouncer, a sample plan, load, verification, "
              "switch, rollback and switch again; a summary at the end");
  demo->add_option("--seconds", demo_seconds, "How long the application load runs")->check(CLI::Range(20, 3600));
  demo->add_option("--script", demo_script, "The demo script (default: scripts/demo next to the build)");

  auto* broker = app.add_subcommand(
      "broker", "Run the embedded Kafka broker on loopback and print its bootstrap address");
  broker->add_option("--port", broker_options.port, "Loopback port to listen on (0: any)")
      ->check(CLI::Range(0, 65535));
  broker->add_option("--topic", broker_options.topics,
                     "Create this topic at start (repeatable)");
  broker->add_option("--partitions", broker_options.partitions,
                     "Partitions of the topics created at start")
      ->check(CLI::Range(1, 64));

  commands::ControlOptions control;
  // Every client command binds its --control to the same URL; CLI11's envname would let the
  // environment of one command's option overwrite another's given flag, so it is read below.
  std::vector<CLI::Option*> control_flags;
  auto add_control_options = [&control, &control_flags](CLI::App* command) {
    control_flags.push_back(
        command->add_option("--control", control.url,
                            "URL of the running cutover run's control API, http:// or https:// "
                            "(default: $CUTOVER_CONTROL, else http://127.0.0.1:7800)"));
    command->add_option("--token", control.token, "Bearer token for POST requests (default: $CUTOVER_TOKEN)");
    command->add_flag("--json", control.json, "Print the answer as JSON");
  };
  auto* status = app.add_subcommand("status", "Show the running pipeline's phase, lag, tables and last verification");
  add_control_options(status);
  auto* verify = app.add_subcommand(
      "verify", "Run a verification of green against blue and print its report; exit 0 clean, 1 differences");
  add_control_options(verify);

  bool dry_run = false;
  bool force_without_rollback = false;
  auto* switch_command = app.add_subcommand("switch", "Cut over to green: guardrails, freeze, drain, sequences, switch");
  add_control_options(switch_command);
  switch_command->add_flag("--dry-run", dry_run, "Check the guardrails only; exit 0 when all pass");
  switch_command->add_flag("--force-without-rollback", force_without_rollback,
                           "Switch although rollback will not be possible (no reverse mapping)");
  auto* rollback_command = app.add_subcommand(
      "rollback", "Back to blue after a switch: guardrails, freeze, drain, sequences, switch");
  add_control_options(rollback_command);
  rollback_command->add_flag("--dry-run", dry_run, "Check the guardrails only; exit 0 when all pass");
  auto* pause_command = app.add_subcommand("pause", "Pause streaming: the applier holds before its next transaction");
  add_control_options(pause_command);
  auto* resume_command = app.add_subcommand("resume", "Resume streaming after cutover pause");
  add_control_options(resume_command);
  auto* abort_command = app.add_subcommand("abort", "Abort a cutover in progress, before it switches");
  add_control_options(abort_command);

  std::string completion_shell;
  auto* completion = app.add_subcommand(
      "completion", "Print a shell completion script for bash or zsh; load it with: source <(cutover completion bash)");
  completion->add_option("SHELL", completion_shell, "The shell")->required()->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForAllHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    // CLI11 says "A subcommand is required" of a command it does not know: name it instead.
    if (argc > 1 && argv[1][0] != '-' && app.get_subcommands([&](const CLI::App* command) {
                                            return command->get_name() == argv[1];
                                          }).empty()) {
      std::string known;
      for (const CLI::App* command : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + command->get_name();
      std::cerr << "cutover: unknown command \"" << argv[1] << "\"; the commands are " << known
                << " (cutover --help says what each does)\n";
      return commands::kBadInput;
    }
    app.exit(error);
    return commands::kBadInput;
  }

  const bool control_given = std::any_of(control_flags.begin(), control_flags.end(),
                                         [](const CLI::Option* flag) { return flag->count() > 0; });
  if (const char* from_environment = std::getenv("CUTOVER_CONTROL");
      !control_given && from_environment != nullptr && *from_environment != '\0') {
    control.url = from_environment;
  }
  if (const std::string wrong = configure_logging(log_format); !wrong.empty()) {
    std::cerr << "cutover: " << wrong << "\n";
    return commands::kBadInput;
  }
  if (*completion) {
    std::cout << commands::completion_script(app, completion_shell);
    return 0;
  }
  commands::install_stop_handlers();
  if (*validate) return commands::validate(plan_path, connect, validate_json);
  if (*capture) return commands::capture(plan_path, drop_slot);
  if (*cleanup) return commands::cleanup(plan_path, dry_run_cleanup);
  if (*run) return commands::run(plan_path);
  if (*apply) return commands::apply(plan_path);
  if (*broker) return commands::broker(broker_options);
  if (*demo) return commands::demo(demo_script, demo_seconds);
  if (*status) return commands::status(control);
  if (*verify) return commands::verify(control);
  if (*switch_command) return commands::switch_over(control, dry_run, force_without_rollback);
  if (*rollback_command) return commands::roll_back(control, dry_run);
  if (*pause_command) return commands::pause_streaming(control, true);
  if (*resume_command) return commands::pause_streaming(control, false);
  if (*abort_command) return commands::abort_cutover(control);
  return commands::kBadInput;
}
