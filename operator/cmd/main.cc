// deepseek-operator: the operator binary. `deepseek-operator COMMAND --help` documents each
// command.
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>

#include "command.h"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "deepseek-operator %s: Kubernetes operator and predictive autoscaler for GPU LLM "
               "inference\n\nUsage: deepseek-operator COMMAND [FLAGS]\n\nCommands:\n",
               DSO_VERSION);
  for (const auto* command : dso::cmd::commands()) {
    std::fprintf(out, "  %-10s %s\n", command->name.c_str(), command->summary.c_str());
  }
  std::fprintf(out, "\n`deepseek-operator COMMAND --help` describes a command's flags.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "version") == 0) {
    std::printf("deepseek-operator %s\n", DSO_VERSION);
    return 0;
  }
  const auto* command = dso::cmd::find_command(argv[1]);
  if (command == nullptr) {
    std::fprintf(stderr, "deepseek-operator: unknown command '%s'\n\n", argv[1]);
    print_usage(stderr);
    return 2;
  }
  try {
    return command->run(std::span<char* const>(argv + 2, static_cast<std::size_t>(argc - 2)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepseek-operator %s: %s\n", argv[1], e.what());
    return 1;
  }
}
