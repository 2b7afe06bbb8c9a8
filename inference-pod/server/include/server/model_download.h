// Fetching the model file before the server loads it (--model-url): the operator's pods with a
// spec.model.source.uri get an empty writable volume at the mount path and this URL.
#pragma once

#include <chrono>
#include <expected>
#include <filesystem>
#include <string>

namespace dso::inference {

struct DownloadOptions {
  std::chrono::seconds timeout{120};  // the longest wait for any one read of the body
  std::string ca_file;                // extra CA bundle to trust (tests); empty: the system CAs
};

// Downloads `url` (https://, or http:// for tests) to `destination`, through a ".part" file renamed
// into place once complete, so a crash never leaves a truncated model under the final name. Does
// nothing when `destination` exists. Errors name the URL and what failed (an HTTP status other
// than 200, TLS verification, a write error). Returns the bytes written (0 when it existed).
std::expected<std::uintmax_t, std::string> download_model(const std::string& url,
                                                          const std::filesystem::path& destination,
                                                          const DownloadOptions& options = {});

}  // namespace dso::inference
