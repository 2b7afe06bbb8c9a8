// The testbed's images: see image_table.h.
#include "testbed/image_table.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace dso::testbed {

using nlohmann::json;

std::expected<ImageTable, std::string> ImageTable::load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::unexpected("image table " + file.string() + ": cannot read");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), "image table " + file.string());
}

std::expected<ImageTable, std::string> ImageTable::parse(const std::string& text,
                                                         const std::string& where) {
  const json root = json::parse(text, nullptr, false);
  if (!root.is_object()) return std::unexpected(where + ": not a JSON object");
  std::map<std::string, Image> images;
  for (const auto& [repository, entry] : root.items()) {
    const std::string at = where + ": \"" + repository + "\"";
    if (!entry.is_object()) return std::unexpected(at + ": not an object");
    Image image;
    for (const auto& [field, slot] :
         {std::pair{"entrypoint", &image.entrypoint}, std::pair{"cmd", &image.cmd}}) {
      if (!entry.contains(field)) continue;
      if (!entry[field].is_array()) return std::unexpected(at + "." + field + ": not an array");
      for (const json& word : entry[field]) {
        if (!word.is_string()) return std::unexpected(at + "." + field + ": not strings");
        slot->push_back(word.get<std::string>());
      }
    }
    if (entry.contains("env")) {
      if (!entry["env"].is_object()) return std::unexpected(at + ".env: not an object");
      for (const auto& [name, value] : entry["env"].items()) {
        if (!value.is_string()) return std::unexpected(at + ".env." + name + ": not a string");
        image.env[name] = value.get<std::string>();
      }
    }
    images[repository_of(repository)] = std::move(image);
  }
  return ImageTable(std::move(images));
}

std::optional<Image> ImageTable::find(const std::string& reference) const {
  const auto it = images_.find(repository_of(reference));
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

std::string repository_of(const std::string& reference) {
  std::string out = reference.substr(0, reference.find('@'));
  const auto slash = out.rfind('/');
  const auto colon = out.rfind(':');
  // A colon after the last slash is a tag; one before it is a registry port.
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    out.resize(colon);
  return out;
}

std::vector<std::string> container_argv(const Image& image, const std::vector<std::string>& command,
                                        const std::vector<std::string>& args) {
  std::vector<std::string> argv = command.empty() ? image.entrypoint : command;
  const std::vector<std::string>& tail = !args.empty()     ? args
                                         : command.empty() ? image.cmd
                                                           : std::vector<std::string>{};
  argv.insert(argv.end(), tail.begin(), tail.end());
  return argv;
}

}  // namespace dso::testbed
