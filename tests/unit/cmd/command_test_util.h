// Test support for the deepseek-operator binary's subcommands: a fixture with a temporary folder
// per test that runs the built binary (DSO_OPERATOR_BINARY) from inside it, with stdin closed, and
// captures its exit status, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace dso::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class CommandTest : public ::testing::Test {
 protected:
  struct Result {
    int status = -1;  // the exit status; -1 when the process did not exit normally
    std::string out;
    std::string err;
  };

  // `subcommand`: e.g. "simulate"; its arguments are given to run().
  explicit CommandTest(std::string subcommand) : subcommand_(std::move(subcommand)) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dso_" + subcommand_ + "_cmd_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `deepseek-operator SUBCOMMAND args`, run inside the temporary folder.
  Result run(const std::string& args) const {
    const std::string cmd = "cd " + dir_.string() + " && " + DSO_OPERATOR_BINARY + " " +
                            subcommand_ + " " + args + " 2>stderr.txt >stdout.txt </dev/null";
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(dir_ / "stdout.txt");
    r.err = slurp(dir_ / "stderr.txt");
    return r;
  }

  // A path inside the temporary folder, and a file written there.
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }

  std::filesystem::path dir_;

 private:
  std::string subcommand_;
};

}  // namespace dso::testing
