// loadgen/address.h: an IPv4 address and TCP port, the unit the load generator balances over.
#pragma once

#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace dso::loadgen {

struct Address {
  std::string ip;  // dotted IPv4, e.g. "10.0.3.7"
  std::uint16_t port = 0;

  std::string to_string() const { return ip + ":" + std::to_string(port); }
  auto operator<=>(const Address&) const = default;
};

// Parses "A.B.C.D:PORT" (port 1..65535). Error: one line quoting the text.
std::expected<Address, std::string> parse_address(std::string_view text);

}  // namespace dso::loadgen
