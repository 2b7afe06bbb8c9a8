// The testbed's images: which local executable a container image runs. A testbed node has no
// container runtime; an image reference is looked up by repository (the tag or digest is ignored)
// in a JSON table, e.g.
//
//   {"ghcr.io/deepseek-operator/inference-server": {
//       "entrypoint": ["/repo/build/inference-pod/deepseek-inference-server"],
//       "env": {"DEEPSEEK_INFERENCE_MODEL": "builtin:gpu-sim"}},
//    "busybox": {"entrypoint": []}}
//
// "entrypoint" plays the image's ENTRYPOINT (empty: the container's command must name a program,
// found on the container's PATH), "cmd" its CMD, "env" its ENV (beneath the container's env).
#pragma once

#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dso::testbed {

struct Image {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::map<std::string, std::string> env;
};

class ImageTable {
 public:
  ImageTable() = default;
  explicit ImageTable(std::map<std::string, Image> images) : images_(std::move(images)) {}

  // Reads the JSON table; errors name the file and the entry.
  static std::expected<ImageTable, std::string> load(const std::filesystem::path& file);
  static std::expected<ImageTable, std::string> parse(const std::string& json,
                                                      const std::string& where);

  // The image for a reference like "ghcr.io/x/server:0.1.0" or "busybox@sha256:..."; nullopt when
  // its repository is not in the table.
  std::optional<Image> find(const std::string& reference) const;

 private:
  std::map<std::string, Image> images_;
};

// "ghcr.io/x/server:0.1.0" -> "ghcr.io/x/server"; "localhost:5000/a:b" -> "localhost:5000/a".
std::string repository_of(const std::string& reference);

// Kubernetes' rule for what a container runs: command overrides the image's entrypoint (and then
// drops its cmd), args override its cmd.
std::vector<std::string> container_argv(const Image& image, const std::vector<std::string>& command,
                                        const std::vector<std::string>& args);

}  // namespace dso::testbed
