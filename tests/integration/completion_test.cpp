// Shell completion as a user meets it: the script `cutover completion` writes, loaded into a
// real bash (its completion function called as bash calls it) and a real interactive zsh
// (driven through a pseudo-terminal, the Tab key pressed), checked against `cutover --help`.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fixtures/child_process.h"
#include "fixtures/temporary_directory.h"

namespace cutover::testing {
namespace {

using namespace std::chrono_literals;

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ChildProcess written({CUTOVER_BINARY, "completion", "bash"}, work_.path());
    ASSERT_EQ(written.wait(30s).value_or(-1), 0) << written.standard_error();
    bash_script_ = work_.write_file("cutover.bash", written.standard_output());
    work_.write_file("plan-blue.yaml", "");
    work_.write_file("plan-green.yaml", "");
  }

  // What bash's completion offers for `line` (the last word being completed).
  std::set<std::string> bash_offers(const std::vector<std::string>& words) {
    std::string array;
    for (const auto& word : words) array += " '" + word + "'";
    const std::string script = "cd '" + work_.path() + "' && source '" + bash_script_ + "' && COMP_WORDS=(" + array +
                               ") && COMP_CWORD=" + std::to_string(words.size() - 1) +
                               " && _cutover && printf '%s\\n' \"${COMPREPLY[@]}\"";
    ChildProcess bash({"bash", "--norc", "--noprofile", "-c", script}, work_.path());
    EXPECT_EQ(bash.wait(30s).value_or(-1), 0) << bash.standard_error();
    std::set<std::string> offered;
    std::istringstream lines(bash.standard_output());
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) offered.insert(line);
    }
    return offered;
  }

  TemporaryDirectory work_{"cutover-completion"};
  std::string bash_script_;
};

// The commands `cutover --help` lists, read from its "SUBCOMMANDS:" section.
std::set<std::string> commands_in_help(const std::string& help) {
  std::set<std::string> commands;
  std::istringstream lines(help);
  bool listing = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("SUBCOMMANDS:", 0) == 0 || line.rfind("Subcommands:", 0) == 0) {
      listing = true;
      continue;
    }
    if (!listing || line.empty()) continue;
    std::istringstream fields(line);
    std::string name;
    if (fields >> name) commands.insert(name);
  }
  return commands;
}

TEST_F(CompletionTest, BashOffersEveryCommandTheHelpListsAndNoOther) {
  ChildProcess help({CUTOVER_BINARY, "--help"}, work_.path());
  ASSERT_EQ(help.wait(30s).value_or(-1), 0);
  const auto listed = commands_in_help(help.standard_output());
  ASSERT_GE(listed.size(), 10u) << help.standard_output();
  EXPECT_EQ(bash_offers({"cutover", ""}), listed);
  EXPECT_EQ(bash_offers({"cutover", "swi"}), std::set<std::string>{"switch"});
  // An option's value is not taken for the command.
  EXPECT_EQ(bash_offers({"cutover", "--log-format", "json", "swi"}), std::set<std::string>{"switch"});
}

TEST_F(CompletionTest, BashOffersEachCommandsOwnFlagsAndTheChoicesOfAnOption) {
  const auto switch_flags = bash_offers({"cutover", "switch", "--"});
  for (const char* flag : {"--dry-run", "--force-without-rollback", "--control", "--token", "--json", "--log-format"}) {
    EXPECT_TRUE(switch_flags.count(flag)) << flag;
  }
  EXPECT_FALSE(switch_flags.count("--connect")) << "validate's flag offered for switch";
  EXPECT_EQ(bash_offers({"cutover", "validate", "--c"}), std::set<std::string>{"--connect"});
  EXPECT_EQ(bash_offers({"cutover", "run", "--log-format", ""}), (std::set<std::string>{"text", "json"}));
  EXPECT_EQ(bash_offers({"cutover", "completion", ""}), (std::set<std::string>{"bash", "zsh"}));
  // A URL or token is the user's to type: no file names offered for it.
  EXPECT_TRUE(bash_offers({"cutover", "status", "--control", ""}).empty());
}

TEST_F(CompletionTest, BashOffersFileNamesWhereACommandTakesAPlan) {
  EXPECT_EQ(bash_offers({"cutover", "run", "plan-"}), (std::set<std::string>{"plan-blue.yaml", "plan-green.yaml"}));
  EXPECT_EQ(bash_offers({"cutover", "validate", "--connect", "plan-g"}), std::set<std::string>{"plan-green.yaml"});
  // One plan is all run takes: nothing more once it is given.
  EXPECT_TRUE(bash_offers({"cutover", "run", "plan-blue.yaml", "plan-"}).empty());
}

// zsh's own line editor completes the line as the user would see it after pressing Tab.
TEST_F(CompletionTest, ZshCompletesTheLineWhenTabIsPressed) {
  ChildProcess written({CUTOVER_BINARY, "completion", "zsh"}, work_.path());
  ASSERT_EQ(written.wait(30s).value_or(-1), 0) << written.standard_error();
  const std::string zsh_script = work_.write_file("cutover.zsh", written.standard_output());
  // Types "cutover swi", Tab, then (at the end of the line) " --dry", Tab; prints what the
  // terminal shows, escape sequences removed.
  const std::string driver = work_.write_file(
      "drive.zsh",
      "zmodload zsh/zpty\n"
      "zpty z 'cd " + work_.path() + " && PS1=\"> \" zsh -f -i'\n"
      "zpty -w z 'source " + zsh_script + "'\n"
      "zpty -w -n z 'cutover swi'$'\\t'\n"
      "sleep 1\n"
      "zpty -w -n z $'\\x05 --dry'$'\\t'\n"
      "sleep 1\n"
      "out=''\n"
      "while zpty -r -t z line; do out+=\"$line\"; done\n"
      "print -r -- \"$out\" | tr -d '\\r' | sed 's/\\x1b\\[[0-9;?]*[a-zA-Z]//g'\n"
      "zpty -d z\n");
  ChildProcess zsh({"zsh", "-f", driver}, work_.path());
  ASSERT_EQ(zsh.wait(60s).value_or(-1), 0) << zsh.standard_error();
  EXPECT_NE(zsh.standard_output().find("cutover switch --dry-run"), std::string::npos) << zsh.standard_output();
}

}  // namespace
}  // namespace cutover::testing
