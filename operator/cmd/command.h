// Subcommands of the deepseek-operator binary. Each lives in its own <name>_command.cc and
// registers itself with a file-scope `CommandRegistration`; main() dispatches on argv[1].
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace dso::cmd {

struct Command {
  std::string name;     // argv[1], e.g. "simulate"
  std::string summary;  // one line for `deepseek-operator --help`
  // Runs with the arguments after the subcommand name; returns the process exit status
  // (0 ok, 1 failure, 2 usage error).
  std::function<int(std::span<char* const> args)> run;
};

// All registered commands, sorted by name.
std::vector<const Command*> commands();
const Command* find_command(std::string_view name);

struct CommandRegistration {
  explicit CommandRegistration(Command command);
};

}  // namespace dso::cmd
