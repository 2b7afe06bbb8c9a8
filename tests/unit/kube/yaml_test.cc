// YAML manifests read as JSON (kube/yaml.h).
#include "kube/yaml.h"

#include <gtest/gtest.h>

namespace dso::kube {
namespace {

TEST(Yaml, DocumentsWithTheCoreSchemasTypes) {
  const auto docs = parse_yaml_documents(R"(# a comment
a: 1
b: "2"
c: true
d: ~
e: 1.5
f: [x, 'y', 010]
g: {h: -3}
---
---
kind: Second
)");
  ASSERT_TRUE(docs) << docs.error();
  ASSERT_EQ(docs->size(), 2u);  // the empty document is skipped
  const Json& first = (*docs)[0];
  EXPECT_EQ(first["a"], 1);
  EXPECT_EQ(first["b"], "2");  // quoted: a string
  EXPECT_EQ(first["c"], true);
  EXPECT_TRUE(first["d"].is_null());
  EXPECT_EQ(first["e"], 1.5);
  EXPECT_EQ(first["f"], Json::array({"x", "y", 10}));
  EXPECT_EQ(first["g"]["h"], -3);
  EXPECT_EQ((*docs)[1]["kind"], "Second");
}

TEST(Yaml, ErrorsNameTheLine) {
  const auto docs = parse_yaml_documents("a: 1\nb: [unclosed\n");
  ASSERT_FALSE(docs);
  EXPECT_NE(docs.error().find("line "), std::string::npos) << docs.error();
}

}  // namespace
}  // namespace dso::kube
