// Optional API-key authentication. Keys come from a file (one key per line; blank lines and lines
// starting with # are ignored) or from a directory such as a mounted Kubernetes Secret (each
// regular file whose name does not start with '.' holds one key). Clients send "Authorization:
// Bearer KEY" (as OpenAI clients do) or "X-API-Key: KEY".
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace dso::inference {

class ApiKeyStore {
 public:
  // Reads the keys at `path`. Fails (one line naming the path) when it cannot be read or holds no
  // key.
  static std::expected<ApiKeyStore, std::string> load(const std::filesystem::path& path);
  static ApiKeyStore from_keys(std::vector<std::string> keys);

  // True if `key` is one of the keys. Compares in time independent of where keys differ.
  bool contains(std::string_view key) const;
  std::size_t size() const;

  // Re-reads the path it was loaded from (a rotated Secret); on failure keeps the old keys and
  // returns the error. Thread-safe with contains().
  std::expected<void, std::string> reload();

 private:
  std::filesystem::path path_;
  std::shared_ptr<const std::vector<std::string>> keys_;
  std::shared_ptr<std::mutex> mu_ = std::make_shared<std::mutex>();
};

// The key a request presents: "Authorization: Bearer KEY" or "X-API-Key: KEY"; empty if none.
// Arguments are the header values ("" when absent).
std::string presented_api_key(std::string_view authorization, std::string_view x_api_key);

}  // namespace dso::inference
