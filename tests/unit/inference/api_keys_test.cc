// API keys from a file or a Secret-mounted directory.
#include "server/api_keys.h"

#include <gtest/gtest.h>

#include <fstream>

namespace dso::inference {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("dso_keys_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(ApiKeys, FileWithCommentsAndBlankLines) {
  auto dir = temp_dir("file");
  write(dir / "keys", "# team A\nsk-alpha\n\n  sk-beta  \r\n");
  auto store = ApiKeyStore::load(dir / "keys");
  ASSERT_TRUE(store) << store.error();
  EXPECT_EQ(store->size(), 2u);
  EXPECT_TRUE(store->contains("sk-alpha"));
  EXPECT_TRUE(store->contains("sk-beta"));
  EXPECT_FALSE(store->contains("sk-alph"));
  EXPECT_FALSE(store->contains("sk-alphaa"));
  EXPECT_FALSE(store->contains("# team A"));
  EXPECT_FALSE(store->contains(""));
}

TEST(ApiKeys, SecretMountedDirectorySkipsDotFiles) {
  auto dir = temp_dir("secret");
  // A kubelet Secret volume: ..data and timestamped dirs, files are symlinks to them.
  fs::create_directories(dir / "..2026_11_28");
  write(dir / "..2026_11_28" / "client-a", "key-a\n");
  fs::create_directory_symlink("..2026_11_28", dir / "..data");
  fs::create_symlink("..data/client-a", dir / "client-a");
  auto store = ApiKeyStore::load(dir);
  ASSERT_TRUE(store) << store.error();
  EXPECT_EQ(store->size(), 1u);
  EXPECT_TRUE(store->contains("key-a"));
  // Rotation: the Secret's content changes, reload picks it up.
  write(dir / "..2026_11_28" / "client-a", "key-b\n");
  ASSERT_TRUE(store->reload());
  EXPECT_FALSE(store->contains("key-a"));
  EXPECT_TRUE(store->contains("key-b"));
}

TEST(ApiKeys, MissingOrEmptySourceIsAnErrorNamingThePath) {
  auto missing = ApiKeyStore::load("/nonexistent/keys.txt");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("/nonexistent/keys.txt"), std::string::npos);
  auto dir = temp_dir("empty");
  write(dir / "keys", "# nothing\n\n");
  auto empty = ApiKeyStore::load(dir / "keys");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().find("no keys"), std::string::npos);
}

TEST(ApiKeys, PresentedKeyFromBearerOrXApiKey) {
  EXPECT_EQ(presented_api_key("Bearer sk-1", ""), "sk-1");
  EXPECT_EQ(presented_api_key("", "sk-2"), "sk-2");
  EXPECT_EQ(presented_api_key("Basic abc", "sk-3"), "sk-3");
  EXPECT_EQ(presented_api_key("Bearer ", ""), "");
  EXPECT_EQ(presented_api_key("", ""), "");
}

}  // namespace
}  // namespace dso::inference
