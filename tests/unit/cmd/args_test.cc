// cli/args.h: how ArgReader splits the arguments and finds a flag's value, the one loop head of
// every deepseek-operator subcommand's flag parsing.
#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace dso::cli {
namespace {

// What a command sees when it asks for a value after every argument: "NAME=VALUE" per flag, or
// "error: MESSAGE" where value() failed.
std::vector<std::string> values(std::vector<std::string> args) {
  ArgReader reader(args);
  std::vector<std::string> out;
  while (const auto arg = reader.next()) {
    const auto v = reader.value();
    out.push_back(v ? arg->name + "=" + *v : "error: " + v.error());
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(ArgReader, InlineAndSeparateValues) {
  EXPECT_EQ(values({"--out=dir", "--trace", "x.csv", "--window=7d"}),
            (Strings{"--out=dir", "--trace=x.csv", "--window=7d"}));
  // Only the first '=' splits; the value keeps the rest.
  EXPECT_EQ(values({"--selector=app=chat"}), (Strings{"--selector=app=chat"}));
  EXPECT_EQ(values({"--selector", "app=chat"}), (Strings{"--selector=app=chat"}));
}

TEST(ArgReader, SplitsOnlyLongFlags) {
  std::vector<std::string> args{"--out=dir", "-x=1", "ns/a=b", "--=v", "--plain"};
  ArgReader reader(args);
  std::vector<std::pair<std::string, std::optional<std::string>>> got;
  while (const auto arg = reader.next()) got.emplace_back(arg->name, arg->inline_value);
  const std::vector<std::pair<std::string, std::optional<std::string>>> want{
      {"--out", "dir"},
      {"-x=1", std::nullopt},
      {"ns/a=b", std::nullopt},
      {"--", "v"},
      {"--plain", std::nullopt}};
  EXPECT_EQ(got, want);
}

TEST(ArgReader, TextIsTheArgumentAsGiven) {
  std::vector<std::string> args{"--help=1", "x"};
  ArgReader reader(args);
  const auto arg = reader.next();
  ASSERT_TRUE(arg.has_value());
  EXPECT_EQ(arg->text, "--help=1");
  EXPECT_EQ(arg->name, "--help");
  EXPECT_TRUE(arg->is_help());  // commands that refuse --help=... check inline_value
  EXPECT_EQ(reader.next()->text, "x");
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_FALSE(reader.next().has_value());  // stays at the end
}

TEST(ArgReader, MissingValueAtTheEndNamesTheFlag) {
  EXPECT_EQ(values({"--kubeconfig"}), (Strings{"error: --kubeconfig: missing value"}));
  EXPECT_EQ(values({"--trace", "x.csv", "--out"}),
            (Strings{"--trace=x.csv", "error: --out: missing value"}));
  // A value taken from the next argument is not read again as an argument.
  std::vector<std::string> args{"--a", "1"};
  ArgReader reader(args);
  reader.next();
  EXPECT_EQ(reader.value(), "1");
  EXPECT_FALSE(reader.next().has_value());
}

TEST(ArgReader, EmptyInlineValueIsAValue) {
  // "--flag=" gives "" (the commands then refuse or accept "" as they would "--flag ''"); the next
  // argument is not taken.
  EXPECT_EQ(values({"--out=", "--trace", "x"}), (Strings{"--out=", "--trace=x"}));
  EXPECT_EQ(values({"--out", ""}), (Strings{"--out="}));
}

TEST(ArgReader, SeparateValueIsTakenEvenWhenItLooksLikeAFlag) {
  EXPECT_EQ(values({"--out", "--trace", "x"}),
            (Strings{"--out=--trace", "error: x: missing value"}));
  EXPECT_EQ(values({"--out", "--help"}), (Strings{"--out=--help"}));
  EXPECT_EQ(values({"--out", "-"}), (Strings{"--out=-"}));
}

TEST(ArgReader, BooleanFlags) {
  const auto boolean = [](std::vector<std::string> args) {
    ArgReader reader(args);
    reader.next();
    const auto b = reader.boolean();
    const auto rest = reader.next();
    return std::make_pair(b ? (*b ? std::string("true") : std::string("false")) : b.error(),
                          rest ? rest->text : std::string("(end)"));
  };
  EXPECT_EQ(boolean({"--leader-elect"}), std::make_pair(std::string("true"), std::string("(end)")));
  EXPECT_EQ(boolean({"--leader-elect=true"}).first, "true");
  EXPECT_EQ(boolean({"--leader-elect=false"}).first, "false");
  // The next argument is never a boolean's value.
  EXPECT_EQ(boolean({"--leader-elect", "false"}),
            std::make_pair(std::string("true"), std::string("false")));
  EXPECT_EQ(boolean({"--leader-elect=maybe"}).first,
            "--leader-elect: expected true or false, got \"maybe\"");
  EXPECT_EQ(boolean({"--leader-elect="}).first, "--leader-elect: expected true or false, got \"\"");
  EXPECT_EQ(boolean({"--leader-elect=False"}).first,
            "--leader-elect: expected true or false, got \"False\"");
}

TEST(ArgReader, HelpFlagsAndUnknownFlags) {
  std::vector<std::string> args{"-h", "--help", "--helpful", "-x=1", "--bogus=2", "pos", "-"};
  ArgReader reader(args);
  std::vector<std::string> got;
  while (const auto arg = reader.next()) {
    got.push_back(std::string(arg->is_help() ? "help " : "") + (arg->is_flag() ? "flag " : "") +
                  arg->unknown());
  }
  EXPECT_EQ(
      got, (Strings{"help flag unknown flag -h (see --help)",
                    "help flag unknown flag --help (see --help)",
                    "flag unknown flag --helpful (see --help)",
                    "flag unknown flag -x=1 (see --help)", "flag unknown flag --bogus (see --help)",
                    "unknown flag pos (see --help)", "flag unknown flag - (see --help)"}));
}

TEST(ArgReader, ReadsArgvAsGiven) {
  std::string a = "--out", b = "dir", c = "--x=";
  std::vector<char*> argv{a.data(), b.data(), c.data()};
  ArgReader reader{std::span<char* const>(argv)};
  ASSERT_EQ(reader.next()->name, "--out");
  EXPECT_EQ(reader.value(), "dir");
  const auto x = reader.next();
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->inline_value, "");
  EXPECT_FALSE(reader.next().has_value());
}

}  // namespace
}  // namespace dso::cli
