// Wall-clock time as the Kubernetes API writes it: RFC 3339 timestamps in UTC. One formatter and
// one parser for every timestamp the project writes or reads (status fields, events, conditions,
// pod status in the testbed).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace dso::timing {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 in UTC, with milliseconds when there are any ("2026-11-28T11:00:00Z",
// "2026-11-28T11:00:00.250Z"). O(1).
std::string format_rfc3339(WallTime t);

// The same truncated to whole seconds ("2026-11-28T11:00:00Z"): metav1.Time's form, which
// conditions' lastTransitionTime and pod status use.
std::string format_rfc3339_seconds(WallTime t);

// Back from RFC 3339: fractional seconds kept to the millisecond; Z or +hh:mm offset; nullopt for
// anything else. O(1).
std::optional<WallTime> parse_rfc3339(const std::string& text);

}  // namespace dso::timing
