// --model-url: see model_download.h.
#include "server/model_download.h"

#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <fstream>
#include <vector>

namespace dso::inference {

std::expected<std::uintmax_t, std::string> download_model(const std::string& url,
                                                          const std::filesystem::path& destination,
                                                          const DownloadOptions& options) {
  std::error_code error;
  if (std::filesystem::exists(destination, error)) return 0;
  if (!url.starts_with("https://") && !url.starts_with("http://"))
    return std::unexpected("--model-url " + url + ": only https:// (or http://) URLs");
  const auto part = destination.string() + ".part";
  try {
    web::http::client::http_client_config config;
    config.set_timeout(options.timeout);
    if (!options.ca_file.empty()) {
      const std::string ca = options.ca_file;
      config.set_ssl_context_callback(
          [ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
    }
    web::http::client::http_client client(web::uri(url), config);
    const auto response = client.request(web::http::methods::GET).get();
    if (response.status_code() != web::http::status_codes::OK) {
      return std::unexpected("--model-url " + url + ": HTTP " +
                             std::to_string(response.status_code()));
    }
    // Read here, one blocking getn at a time. The server runs PPL continuations inline
    // (http_server.cc), and under that scheduler read_to_end's loop re-enters the body buffer's
    // lock from its own continuation: 3 downloads in 12 hung for good after the first 16 KiB.
    std::ofstream file(part, std::ios::binary | std::ios::trunc);
    if (!file) return std::unexpected("--model-url: cannot write " + part);
    auto body = response.body().streambuf();
    std::vector<std::uint8_t> chunk(1 << 20);
    while (const std::size_t n = body.getn(chunk.data(), chunk.size()).get()) {
      if (!file.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(n)))
        break;
    }
    file.close();
    if (!file) {
      std::filesystem::remove(part, error);
      return std::unexpected("--model-url: writing " + part + " failed");
    }
  } catch (const std::exception& e) {
    std::filesystem::remove(part, error);
    return std::unexpected("--model-url " + url + ": " + e.what());
  }
  std::filesystem::rename(part, destination, error);
  if (error) return std::unexpected("--model-url: rename " + part + ": " + error.message());
  return std::filesystem::file_size(destination, error);
}

}  // namespace dso::inference
