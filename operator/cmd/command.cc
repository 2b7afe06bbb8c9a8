#include "command.h"

#include <algorithm>
#include <map>
#include <memory>

namespace dso::cmd {
namespace {

std::map<std::string, std::unique_ptr<Command>, std::less<>>& registry() {
  static std::map<std::string, std::unique_ptr<Command>, std::less<>> commands;
  return commands;
}

}  // namespace

CommandRegistration::CommandRegistration(Command command) {
  auto name = command.name;
  registry().emplace(std::move(name), std::make_unique<Command>(std::move(command)));
}

std::vector<const Command*> commands() {
  std::vector<const Command*> out;
  for (const auto& [name, command] : registry()) out.push_back(command.get());
  return out;
}

const Command* find_command(std::string_view name) {
  const auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.get();
}

}  // namespace dso::cmd
