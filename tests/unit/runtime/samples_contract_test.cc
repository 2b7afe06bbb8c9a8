// The operator <-> server contract, fed end to end: for every DeepSeekService in crds/samples/, the
// exact arguments and environment of the pod the operator builds (with the image's own ENV from
// inference-pod/Dockerfile beneath them, as a container runtime layers them) go through the
// server's own parser, and what it reads must be what the spec says: model name, port, drain
// timeout, model path under the mount, warm-up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "api/deepseek_service.h"
#include "controller/desired_objects.h"
#include "inference/server_contract.h"
#include "kube/yaml.h"
#include "runtime/profile.h"
#include "server/server_config.h"

namespace dso {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
namespace contract = inference::contract;

std::string read(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The ENV of the Dockerfile's last stage: what the image gives every container before the pod's
// env entries.
std::map<std::string, std::string> image_env(const fs::path& dockerfile) {
  std::istringstream in(read(dockerfile));
  std::string line, logical;
  std::map<std::string, std::string> env;
  std::vector<std::string> instructions;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\\') {
      logical += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    instructions.push_back(logical + line);
    logical.clear();
  }
  for (const auto& ins : instructions) {
    if (ins.starts_with("FROM ")) env.clear();  // a new stage
    if (!ins.starts_with("ENV ")) continue;
    std::istringstream words(ins.substr(4));
    std::string word;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq != std::string::npos) env[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return env;
}

std::vector<json> samples() {
  std::vector<json> out;
  for (const auto& entry : fs::directory_iterator(fs::path(DSO_SOURCE_DIR) / "crds/samples")) {
    if (entry.path().extension() != ".yaml") continue;
    const auto docs = kube::parse_yaml_documents(read(entry.path()));
    EXPECT_TRUE(docs) << entry.path() << ": " << docs.error();
    if (!docs) continue;
    for (json doc : *docs) {
      if (doc.value("kind", "") != api::kKind) continue;
      doc["metadata"]["namespace"] = doc["metadata"].value("namespace", "default");
      doc["metadata"]["uid"] = "uid-" + entry.path().stem().string();
      doc["x-file"] = entry.path().filename().string();
      out.push_back(doc);
    }
  }
  return out;
}

TEST(SamplesContract, EverySampleIsValid) {
  const auto all = samples();
  ASSERT_GE(all.size(), 2u);
  for (const json& doc : all) {
    const auto dss = api::parse_deepseek_service(doc);
    ASSERT_TRUE(dss) << doc["x-file"] << ": " << dss.error();
    auto problems = api::validate(dss->spec);
    for (auto& p : runtime::validate_runtime(dss->spec)) problems.push_back(p);
    EXPECT_TRUE(problems.empty()) << doc["x-file"] << ": " << json(problems).dump();
  }
}

TEST(SamplesContract, TheServerReadsWhatTheSpecSays) {
  const auto defaults = image_env(fs::path(DSO_SOURCE_DIR) / "inference-pod/Dockerfile");
  ASSERT_TRUE(defaults.contains(contract::env_var(contract::flag::kModel)))
      << "the image names no default model";
  for (const json& doc : samples()) {
    const auto dss = api::parse_deepseek_service(doc).value();
    if (dss.spec.model.runtime != api::Runtime::kDeepSeek) continue;
    for (const api::Region& region : dss.spec.regions) {
      SCOPED_TRACE(doc["x-file"].get<std::string>() + " region " + region.name);
      controller::BuildOptions build;
      build.replicas = 1;
      const json pod =
          controller::build_region_objects(dss, region, build).deployment["spec"]["template"];
      const json& c = pod["spec"]["containers"][0];

      // The container runtime's layering: image ENV, then the container's env in order.
      std::map<std::string, std::string> env = defaults;
      for (const json& e : c.value("env", json::array())) {
        ASSERT_TRUE(e.contains("value")) << "valueFrom is not resolved here: " << e.dump();
        env[e["name"]] = e["value"];
      }
      std::vector<std::string> args{"deepseek-inference-server"};
      for (const json& a : c.value("args", json::array())) args.push_back(a);
      std::vector<const char*> argv;
      for (const auto& a : args) argv.push_back(a.c_str());
      const auto parsed = inference::parse_server_args(
          static_cast<int>(argv.size()), argv.data(), [&](const char* name) -> const char* {
            const auto it = env.find(name);
            return it == env.end() ? nullptr : it->second.c_str();
          });
      ASSERT_TRUE(parsed) << parsed.error();
      const inference::ServerConfig& config = parsed->config;

      EXPECT_EQ(config.model_name, dss.spec.model.name);
      // The port the server listens on is the container's "http" port, which the probes use.
      int http_port = 0;
      for (const json& p : c["ports"]) {
        if (p["name"] == "http") http_port = p["containerPort"];
      }
      EXPECT_EQ(config.port, http_port);
      for (const char* probe : {"startupProbe", "readinessProbe", "livenessProbe"})
        EXPECT_EQ(c[probe]["httpGet"]["port"], "http") << probe;
      EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], std::string(contract::kReadyPath));
      EXPECT_EQ(c["startupProbe"]["httpGet"]["path"], std::string(contract::kReadyPath));
      EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], std::string(contract::kHealthPath));

      // Drain: the grace period covers the preStop, the drain and the exit margin.
      const int grace = pod["spec"]["terminationGracePeriodSeconds"];
      const int pre_stop = dss.spec.pre_stop_seconds;
      EXPECT_EQ(grace, dss.spec.termination_grace_period_seconds);
      EXPECT_EQ(config.drain_timeout_s, grace - pre_stop - runtime::kExitMarginSeconds);
      if (pre_stop > 0) {
        EXPECT_EQ(c["lifecycle"]["preStop"]["exec"]["command"],
                  json::array({"sleep", std::to_string(pre_stop)}));
      }

      // The model: under the model volume's mount when the spec has a source, else the image's.
      const auto& source = dss.spec.model.source;
      if (source.pvc_claim || source.host_path || source.uri) {
        std::string mount_path;
        for (const json& m : c["volumeMounts"]) {
          if (m["name"] == "model") mount_path = m["mountPath"];
        }
        ASSERT_FALSE(mount_path.empty()) << "no model volume mounted";
        EXPECT_TRUE(config.model_path == mount_path ||
                    config.model_path.starts_with(mount_path + "/"))
            << config.model_path << " is not under " << mount_path;
      } else {
        EXPECT_EQ(config.model_path, defaults.at(contract::env_var(contract::flag::kModel)));
      }
      EXPECT_EQ(config.warmup_batches, dss.spec.model.warmup_requests);
    }
  }
}

}  // namespace
}  // namespace dso
