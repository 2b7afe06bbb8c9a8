// cli/args.h: the one loop head of every deepseek-operator subcommand's flag parsing. ArgReader
// walks the arguments after the subcommand name and yields each one split as "--name=value" or
// "--name"; the command decides what the name means and asks the reader for its value, which is
// the inline value or the following argument.
//
//   ArgReader reader(args);
//   while (const auto arg = reader.next()) {
//     if (arg->is_help()) ...
//     if (arg->name == "--out") { const auto v = reader.value(); if (!v) fail(v.error()); ... }
//     else fail(arg->unknown());
//   }
#pragma once

#include <cstddef>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace dso::cli {

// One argument as given, and split when it has the form --name=value.
struct Arg {
  std::string text;  // as given, e.g. "--out=dir"
  // text up to the first '=' when text starts with "--" and has one ("--out" of "--out=dir"),
  // else all of text ("-h", "ns/name", "-x=1").
  std::string name;
  // What follows that '=' ("dir"; "" for "--out="); unset when text was not split.
  std::optional<std::string> inline_value;

  // -h or --help; "--help=..." counts too (its name is --help).
  bool is_help() const { return name == "-h" || name == "--help"; }
  // Starts with '-' (a flag, known or not, rather than a positional argument).
  bool is_flag() const { return name.starts_with('-'); }
  // "unknown flag NAME (see --help)".
  std::string unknown() const;
};

class ArgReader {
 public:
  // Copies the arguments (the ones after the subcommand name).
  explicit ArgReader(std::span<char* const> args);
  explicit ArgReader(std::span<const std::string> args);

  // The next argument, or nothing once all are read.
  std::optional<Arg> next();

  // The value of the argument next() returned last: its inline value, else the argument after it,
  // which is then consumed whatever it looks like ("--out --x" gives "--x"). Call it at most once
  // per argument. Error "NAME: missing value" when there is no inline value and no argument left.
  std::expected<std::string, std::string> value();

  // The value of a boolean flag: the inline value "true" or "false", or true when there is none
  // (the argument after it is never taken: "--leader-elect false" is --leader-elect then "false").
  // Error "NAME: expected true or false, got \"VALUE\"" for any other inline value, "" included.
  std::expected<bool, std::string> boolean() const;

 private:
  std::vector<std::string> args_;
  std::size_t next_ = 0;  // index of the argument next() returns
  Arg current_;
};

}  // namespace dso::cli
