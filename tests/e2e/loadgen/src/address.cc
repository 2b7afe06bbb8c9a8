// Parsing IPv4 "A.B.C.D:PORT" target addresses.
#include "loadgen/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace dso::loadgen {

std::expected<Address, std::string> parse_address(std::string_view text) {
  const auto bad = [&](const char* why) {
    return std::unexpected("\"" + std::string(text) + "\": " + why);
  };
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("expected IPv4:PORT");
  const std::string ip(text.substr(0, colon));
  in_addr parsed{};
  if (::inet_pton(AF_INET, ip.c_str(), &parsed) != 1) return bad("not an IPv4 address");
  const auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return bad("port must be 1..65535");
  }
  return Address{ip, static_cast<std::uint16_t>(port)};
}

}  // namespace dso::loadgen
