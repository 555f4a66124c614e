// Shell completion for cutover, generated from the command line's own definition, so that a
// command, flag or choice added to main.cpp completes without anything else to change.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace cutover::commands {

// The script for `shell` (bash or zsh): commands, their flags and options, the
// choices of options that take one of a set, and file names where a command takes a plan.
std::string completion_script(const CLI::App& app, const std::string& shell);

}  // namespace cutover::commands
