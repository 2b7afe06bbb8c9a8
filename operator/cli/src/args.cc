#include "cli/args.h"

namespace dso::cli {

std::string Arg::unknown() const {
  return "unknown flag " + name + " (see --help)";
}

ArgReader::ArgReader(std::span<char* const> args) : args_(args.begin(), args.end()) {}

ArgReader::ArgReader(std::span<const std::string> args) : args_(args.begin(), args.end()) {}

std::optional<Arg> ArgReader::next() {
  if (next_ >= args_.size()) return std::nullopt;
  current_ = Arg{.text = args_[next_++], .name = {}, .inline_value = std::nullopt};
  current_.name = current_.text;
  if (const auto eq = current_.text.find('=');
      current_.text.starts_with("--") && eq != std::string::npos) {
    current_.name = current_.text.substr(0, eq);
    current_.inline_value = current_.text.substr(eq + 1);
  }
  return current_;
}

std::expected<std::string, std::string> ArgReader::value() {
  if (current_.inline_value) return *current_.inline_value;
  if (next_ >= args_.size()) return std::unexpected(current_.name + ": missing value");
  return args_[next_++];
}

std::expected<bool, std::string> ArgReader::boolean() const {
  const std::string v = current_.inline_value.value_or("true");
  if (v != "true" && v != "false") {
    return std::unexpected(current_.name + ": expected true or false, got \"" + v + "\"");
  }
  return v == "true";
}

}  // namespace dso::cli
