#include "completion.h"

#include <algorithm>
#include <sstream>
#include <vector>

namespace cutover::commands {
namespace {

// What a word after an option or in a positional place completes to.
struct Values {
  bool any = false;                  // takes a value
  std::vector<std::string> choices;  // one of these (from a CLI::IsMember check)
  bool files = false;                // a path
};

// CLI11 names a set check "{a,b}" in the option's type name ("TEXT:{text,json}").
std::vector<std::string> choices_of(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const auto open = type.find('{');
  const auto close = type.find('}', open);
  std::vector<std::string> choices;
  if (open == std::string::npos || close == std::string::npos) return choices;
  std::stringstream listed(type.substr(open + 1, close - open - 1));
  for (std::string choice; std::getline(listed, choice, ',');) {
    if (!choice.empty()) choices.push_back(choice);
  }
  return choices;
}

Values values_of(const CLI::Option& option) {
  Values values;
  values.any = option.get_expected_max() > 0 && option.get_type_size_max() > 0;  // flags expect none
  if (!values.any) return values;
  values.choices = choices_of(option);
  // Positionals (PLAN) and --script are paths; other values (URLs, tokens, numbers) are not.
  values.files = values.choices.empty() && (option.get_positional() && !option.nonpositional());
  for (const auto& name : option.get_lnames()) values.files = values.files || name == "script";
  return values;
}

std::vector<std::string> flag_names(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const auto& name : option.get_lnames()) names.push_back("--" + name);
  for (const auto& name : option.get_snames()) names.push_back("-" + name);
  return names;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

// compgen's completions of $cur for what a word takes.
std::string bash_reply(const Values& values) {
  if (!values.choices.empty()) return "COMPREPLY=($(compgen -W \"" + joined(values.choices) + "\" -- \"$cur\"))";
  if (values.files) return "COMPREPLY=($(compgen -f -- \"$cur\"))";
  return "COMPREPLY=()";
}

struct Command {
  std::string name;
  std::vector<std::string> flags;  // every flag and option it takes, its parent's included
  std::vector<std::pair<std::string, Values>> valued;  // option name -> what follows it
  std::vector<Values> positionals;
};

Command command_of(const CLI::App& app, const std::vector<const CLI::Option*>& inherited) {
  Command command{app.get_name(), {}, {}, {}};
  auto add = [&command](const CLI::Option* option) {
    if (!option->nonpositional()) {
      command.positionals.push_back(values_of(*option));
      return;
    }
    for (const auto& name : flag_names(*option)) {
      command.flags.push_back(name);
      if (const Values values = values_of(*option); values.any) command.valued.emplace_back(name, values);
    }
  };
  for (const CLI::Option* option : app.get_options()) add(option);
  for (const CLI::Option* option : inherited) add(option);
  return command;
}

std::string bash_script(const CLI::App& app) {
  const auto top_options = app.get_options();
  std::vector<const CLI::Option*> inherited;  // the top's options taken after a command too
  std::copy_if(top_options.begin(), top_options.end(), std::back_inserter(inherited), [](const CLI::Option* option) {
    const auto& names = option->get_lnames();
    return std::find_if(names.begin(), names.end(), [](const std::string& name) {
             return name == "help" || name == "version";
           }) == names.end();
  });
  const Command top = command_of(app, {});
  std::vector<Command> commands;
  std::vector<std::string> command_names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    commands.push_back(command_of(*sub, inherited));
    command_names.push_back(sub->get_name());
  }

  std::ostringstream out;
  out << "# bash completion for cutover (written by `cutover completion bash`).\n"
         "# Load it with: source <(cutover completion bash)\n"
         "_cutover() {\n"
         "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
         "  local command=\"\" positional=0 i word\n"
         "  # The command is the first word that names one; the words after it that are no flag,\n"
         "  # nor the value of an option, are its positionals.\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    word=\"${COMP_WORDS[i]}\"\n"
         "    case \"$word\" in\n"
         "      -*) ;;\n"
         "      *)\n"
         "        case \"${COMP_WORDS[i-1]}\" in\n";
  std::vector<std::string> valued_names;
  for (const auto& [name, values] : top.valued) valued_names.push_back(name);
  for (const auto& command : commands) {
    for (const auto& [name, values] : command.valued) {
      if (std::find(valued_names.begin(), valued_names.end(), name) == valued_names.end()) valued_names.push_back(name);
    }
  }
  if (!valued_names.empty()) {
    std::string alternatives;
    for (const auto& name : valued_names) alternatives += (alternatives.empty() ? "" : "|") + name;
    out << "          " << alternatives << ") continue ;;\n";
  }
  out << "        esac\n"
         "        if [[ -z $command ]]; then command=\"$word\"; else ((positional++)); fi ;;\n"
         "    esac\n"
         "  done\n"
         "  case \"$command\" in\n";
  auto write_command = [&out](const std::string& pattern, const Command& command,
                              const std::vector<std::string>& words_when_positional) {
    out << "    " << pattern << ")\n      case \"$prev\" in\n";
    for (const auto& [name, values] : command.valued) {
      out << "        " << name << ") " << bash_reply(values) << "; return ;;\n";
    }
    out << "      esac\n"
           "      if [[ $cur == -* ]]; then\n"
           "        COMPREPLY=($(compgen -W \"" << joined(command.flags) << "\" -- \"$cur\"))\n";
    if (!words_when_positional.empty()) {
      out << "      else\n        COMPREPLY=($(compgen -W \"" << joined(words_when_positional) << "\" -- \"$cur\"))\n";
    } else {
      for (std::size_t i = 0; i < command.positionals.size(); ++i) {
        out << "      elif ((positional == " << i << ")); then\n        " << bash_reply(command.positionals[i]) << "\n";
      }
    }
    out << "      fi ;;\n";
  };
  write_command("\"\"", top, command_names);
  for (const auto& command : commands) write_command(command.name, command, {});
  out << "  esac\n"
         "}\n"
         "complete -o filenames -F _cutover cutover\n";
  return out.str();
}

}  // namespace

std::string completion_script(const CLI::App& app, const std::string& shell) {
  const std::string bash = bash_script(app);
  if (shell == "zsh") {
    // zsh runs bash's completion functions through bashcompinit.
    return "# zsh completion for cutover (written by `cutover completion zsh`).\n"
           "# Load it with: source <(cutover completion zsh)\n"
           "autoload -U +X compinit && compinit\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           bash;
  }
  return bash;
}

}  // namespace cutover::commands
