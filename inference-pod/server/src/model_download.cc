// --model-url: see model_download.h.
#include "server/model_download.h"

#include <cpprest/filestream.h>
#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>

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
    auto file = concurrency::streams::fstream::open_ostream(part).get();
    response.body().read_to_end(file.streambuf()).get();
    file.close().get();
  } catch (const std::exception& e) {
    std::filesystem::remove(part, error);
    return std::unexpected("--model-url " + url + ": " + e.what());
  }
  std::filesystem::rename(part, destination, error);
  if (error) return std::unexpected("--model-url: rename " + part + ": " + error.message());
  return std::filesystem::file_size(destination, error);
}

}  // namespace dso::inference
