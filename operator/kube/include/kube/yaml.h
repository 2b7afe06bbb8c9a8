// YAML manifests as JSON objects: what `kubectl apply -f` and `helm template` files hold, read into
// the Json the rest of dso::kube works with.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "kube/types.h"

namespace dso::kube {

// Every document of a YAML stream ("---" separated), in order; empty documents are skipped. Plain
// scalars become JSON booleans (true/false), null (null, ~, empty), integers and floats when they
// read as such (YAML 1.2 core schema), else strings; quoted scalars are always strings. Errors name
// the line and column.
std::expected<std::vector<Json>, std::string> parse_yaml_documents(std::string_view text);

}  // namespace dso::kube
