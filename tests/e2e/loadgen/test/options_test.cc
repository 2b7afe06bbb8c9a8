// Flag parsing: what each flag turns into, the combinations refused, and the help text.
#include "loadgen/options.h"

#include <gtest/gtest.h>

namespace dso::loadgen {
namespace {

std::expected<ParsedCommand, std::string> parse(std::vector<std::string> args) {
  return parse_command_line(args, "default-sizes.csv");
}

TEST(Options, ConstantRateWithTargets) {
  const auto p = parse({"--rate", "12.5", "--duration=90s", "--target", "10.0.0.1:8000",
                        "--target=10.0.0.2:9000", "--seed", "7", "--stream=false", "--slo-p99",
                        "250ms", "--request-timeout", "1.5s", "--progress"});
  ASSERT_TRUE(p) << p.error();
  const Options& o = p->options;
  EXPECT_FALSE(p->help);
  EXPECT_DOUBLE_EQ(o.rate, 12.5);
  EXPECT_EQ(o.duration, Millis(90'000));
  ASSERT_EQ(o.targets.size(), 2u);
  EXPECT_EQ(o.targets[1], (Address{"10.0.0.2", 9000}));
  EXPECT_EQ(o.seed, 7u);
  EXPECT_FALSE(o.stream);
  EXPECT_TRUE(o.progress);
  EXPECT_EQ(o.slo_p99, Millis(250));
  EXPECT_EQ(o.request_timeout, Millis(1500));
  EXPECT_EQ(o.sizes_file, "default-sizes.csv");
  EXPECT_FALSE(o.follows_service());
}

TEST(Options, DefaultsMatchTheBrief) {
  const auto p = parse({"--rate=1", "--duration=1m", "--target=127.0.0.1:1"});
  ASSERT_TRUE(p) << p.error();
  const Options& o = p->options;
  EXPECT_TRUE(o.stream);
  EXPECT_EQ(o.max_in_flight, 2048u);
  EXPECT_DOUBLE_EQ(o.prompt_scale, 0.125);
  EXPECT_DOUBLE_EQ(o.output_scale, 0.125);
  EXPECT_EQ(o.max_prompt_bytes, 2048);
  EXPECT_EQ(o.max_output_tokens, 64);
  EXPECT_EQ(o.request_timeout, Millis(60'000));
  EXPECT_EQ(o.slo_p99, Millis(2'000));
  EXPECT_EQ(o.model, "deepseek-byte-lm");
}

TEST(Options, TraceAndService) {
  const auto p =
      parse({"--trace",      "t.csv",        "--trace-scale", "40",        "--trace-start-row",
             "600",          "--trace-step", "10s",           "--service", "prod/deepseek",
             "--kubeconfig", "/k",           "--port-name",   "api",       "--high-priority-share",
             "0.25",         "--api-key",    "sk-1",          "--csv",     "o.csv",
             "--svg",        "o.svg",        "--sizes",       "s.csv"});
  ASSERT_TRUE(p) << p.error();
  const Options& o = p->options;
  EXPECT_EQ(o.trace_file, "t.csv");
  EXPECT_DOUBLE_EQ(o.trace_scale, 40);
  EXPECT_EQ(o.trace_start_row, 600u);
  EXPECT_EQ(o.trace_step, Millis(10'000));
  EXPECT_EQ(o.duration, Millis(0));  // the trace's end
  EXPECT_EQ(o.service_namespace, "prod");
  EXPECT_EQ(o.service_name, "deepseek");
  EXPECT_EQ(o.kubeconfig, "/k");
  EXPECT_EQ(o.port_name, "api");
  EXPECT_DOUBLE_EQ(o.high_priority_share, 0.25);
  EXPECT_EQ(o.api_key, "sk-1");
  EXPECT_EQ(o.csv_file, "o.csv");
  EXPECT_EQ(o.svg_file, "o.svg");
  EXPECT_EQ(o.sizes_file, "s.csv");
  EXPECT_TRUE(o.follows_service());
}

TEST(Options, ErrorsNameTheFlagAndValue) {
  const auto error = [](std::vector<std::string> args) {
    const auto p = parse(std::move(args));
    return p ? std::string("(parsed)") : p.error();
  };
  const std::vector<std::string> ok_tail = {"--duration=1m", "--target=127.0.0.1:1"};
  auto with = [&](std::vector<std::string> head) {
    head.insert(head.end(), ok_tail.begin(), ok_tail.end());
    return error(head);
  };
  EXPECT_EQ(with({"--rate", "fast"}), "--rate: expected a number in [0, 1e+06], got \"fast\"");
  EXPECT_EQ(with({"--rate=1", "--max-in-flight=0"}),
            "--max-in-flight: expected an integer in [1, 100000], got \"0\"");
  EXPECT_EQ(with({"--rate=1", "--high-priority-share=1.5"}),
            "--high-priority-share: expected a number in [0, 1], got \"1.5\"");
  EXPECT_EQ(with({"--rate=1", "--stream=yes"}), "--stream: expected true or false, got \"yes\"");
  EXPECT_EQ(with({"--rate=1", "--target=localhost:80"}),
            "--target: \"localhost:80\": not an IPv4 address");
  EXPECT_EQ(with({"--rate=1", "--target=1.2.3.4:0"}),
            "--target: \"1.2.3.4:0\": port must be 1..65535");
  EXPECT_EQ(with({"--rate=1", "--slo-p99=fast"}).rfind("--slo-p99: ", 0), 0u);
  EXPECT_EQ(with({"--rate=1", "--bogus=1"}), "unknown flag --bogus (see --help)");
  EXPECT_EQ(with({"--rate=1", "stray"}), "unexpected argument \"stray\"");
  EXPECT_EQ(with({"--rate"}), "--rate: expected a number in [0, 1e+06], got \"--duration=1m\"");
  EXPECT_EQ(error({"--rate=1", "--target=127.0.0.1:1", "--model"}), "--model: missing value");
  EXPECT_EQ(error({"--rate=1", "--duration=1m", "--service=nons"}),
            "--service: expected NAMESPACE/NAME, got \"nons\"");
}

TEST(Options, CombinationsRefused) {
  const auto error = [](std::vector<std::string> args) {
    const auto p = parse(std::move(args));
    return p ? std::string("(parsed)") : p.error();
  };
  EXPECT_EQ(error({"--target=127.0.0.1:1"}), "one of --rate or --trace is required");
  EXPECT_EQ(error({"--rate=1", "--trace=t", "--target=127.0.0.1:1"}),
            "--rate and --trace exclude each other");
  EXPECT_EQ(error({"--rate=1", "--target=127.0.0.1:1"}), "--duration is required with --rate");
  EXPECT_EQ(error({"--rate=1", "--duration=1s"}), "one of --target or --service is required");
  EXPECT_EQ(error({"--rate=1", "--duration=1s", "--target=127.0.0.1:1", "--service=a/b"}),
            "--target and --service exclude each other");
  EXPECT_EQ(error({"--rate=1", "--duration=1s", "--target=127.0.0.1:1", "--trace-scale=2"}),
            "--trace-scale: only with --trace");
  EXPECT_EQ(error({"--rate=1", "--duration=1s", "--target=127.0.0.1:1", "--kubeconfig=k"}),
            "--kubeconfig: only with --service");
}

TEST(Options, HelpListsEveryFlag) {
  const auto p = parse({"--rate=oops", "--help"});
  ASSERT_FALSE(p);  // flags are read in order: the bad value comes first
  const auto h = parse({"--help", "--rate=oops"});
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->help);
  const std::string help = help_text();
  for (const char* flag : {"--rate",
                           "--trace",
                           "--trace-scale",
                           "--trace-start-row",
                           "--trace-step",
                           "--duration",
                           "--seed",
                           "--max-in-flight",
                           "--target",
                           "--kubeconfig",
                           "--service",
                           "--port-name",
                           "--model",
                           "--stream",
                           "--sizes",
                           "--prompt-scale",
                           "--output-scale",
                           "--max-prompt-bytes",
                           "--max-output-tokens",
                           "--high-priority-share",
                           "--api-key",
                           "--request-timeout",
                           "--slo-p99",
                           "--csv",
                           "--svg",
                           "--progress",
                           "--help"}) {
    const std::string line = std::string("\n  ") + flag;
    EXPECT_TRUE(help.find(line + " ") != std::string::npos ||
                help.find(line + "\n") != std::string::npos)
        << flag;
  }
}

TEST(Options, ParseMillis) {
  EXPECT_EQ(parse_millis("250ms"), Millis(250));
  EXPECT_EQ(parse_millis("1.5s"), Millis(1500));
  EXPECT_EQ(parse_millis("2s"), Millis(2000));
  EXPECT_EQ(parse_millis("1h30m"), Millis(5'400'000));
  EXPECT_EQ(parse_millis("90"), Millis(90'000));
  EXPECT_FALSE(parse_millis("0ms"));
  EXPECT_FALSE(parse_millis("-1s"));
  EXPECT_FALSE(parse_millis("ms"));
  EXPECT_FALSE(parse_millis("fast"));
}

}  // namespace
}  // namespace dso::loadgen
