// API keys from a file or a Secret-mounted directory (see api_keys.h).
#include "server/api_keys.h"

#include <fstream>
#include <sstream>

namespace dso::inference {
namespace {

std::string trim(std::string_view s) {
  const auto* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

std::expected<std::vector<std::string>, std::string> read_keys(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> keys;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      const auto name = entry.path().filename().string();
      if (name.empty() || name[0] == '.' || !entry.is_regular_file(ec)) continue;
      std::ifstream in(entry.path());
      std::stringstream buf;
      buf << in.rdbuf();
      if (auto key = trim(buf.str()); !key.empty()) keys.push_back(std::move(key));
    }
    if (ec) return std::unexpected("api keys '" + path.string() + "': " + ec.message());
  } else {
    std::ifstream in(path);
    if (!in) return std::unexpected("api keys '" + path.string() + "': cannot open file");
    std::string line;
    while (std::getline(in, line)) {
      auto key = trim(line);
      if (!key.empty() && key[0] != '#') keys.push_back(std::move(key));
    }
  }
  if (keys.empty()) return std::unexpected("api keys '" + path.string() + "': no keys found");
  return keys;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

}  // namespace

std::expected<ApiKeyStore, std::string> ApiKeyStore::load(const std::filesystem::path& path) {
  auto keys = read_keys(path);
  if (!keys) return std::unexpected(keys.error());
  ApiKeyStore store;
  store.path_ = path;
  store.keys_ = std::make_shared<const std::vector<std::string>>(std::move(*keys));
  return store;
}

ApiKeyStore ApiKeyStore::from_keys(std::vector<std::string> keys) {
  ApiKeyStore store;
  store.keys_ = std::make_shared<const std::vector<std::string>>(std::move(keys));
  return store;
}

bool ApiKeyStore::contains(std::string_view key) const {
  std::shared_ptr<const std::vector<std::string>> keys;
  {
    std::lock_guard lock(*mu_);
    keys = keys_;
  }
  if (key.empty() || !keys) return false;
  bool found = false;
  for (const auto& k : *keys) found |= equal_constant_time(k, key);
  return found;
}

std::size_t ApiKeyStore::size() const {
  std::lock_guard lock(*mu_);
  return keys_ ? keys_->size() : 0;
}

std::expected<void, std::string> ApiKeyStore::reload() {
  if (path_.empty()) return {};
  auto keys = read_keys(path_);
  if (!keys) return std::unexpected(keys.error());
  auto fresh = std::make_shared<const std::vector<std::string>>(std::move(*keys));
  std::lock_guard lock(*mu_);
  keys_ = std::move(fresh);
  return {};
}

std::string presented_api_key(std::string_view authorization, std::string_view x_api_key) {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() > kBearer.size() && authorization.substr(0, kBearer.size()) == kBearer) {
    return trim(authorization.substr(kBearer.size()));
  }
  return trim(x_api_key);
}

}  // namespace dso::inference
