#include "sim/fleet.h"

#include <algorithm>
#include <stdexcept>

namespace dso::sim {

Fleet::Fleet(Seconds cold_start, int ready) : cold_start_(cold_start), ready_(std::max(0, ready)) {
  if (cold_start < 0) throw std::invalid_argument("fleet: negative cold start");
}

void Fleet::advance(Seconds now) {
  while (!pending_.empty() && pending_.front().ready_at <= now) {
    measured_.push_back(pending_.front().ready_at - pending_.front().requested_at);
    pending_.pop_front();
    ++ready_;
  }
}

void Fleet::set_desired(int replicas, Seconds now) {
  replicas = std::max(0, replicas);
  while (provisioned() < replicas) pending_.push_back({now, now + cold_start_});
  while (provisioned() > replicas) {
    if (!pending_.empty()) {
      pending_.pop_back();
    } else {
      --ready_;
    }
  }
}

std::vector<Seconds> Fleet::take_cold_starts() {
  std::vector<Seconds> out;
  out.swap(measured_);
  return out;
}

}  // namespace dso::sim
