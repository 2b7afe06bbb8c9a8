# Generates a .cc file holding INPUT as a std::string_view returned by FUNCTION (namespace
# dso::sim). The text is split into raw-string chunks under 64 KiB each (ISO C++'s minimum string
# literal length, which -Wpedantic enforces) and joined once at first use.
#   cmake -DINPUT=file.csv -DOUTPUT=out.cc -DFUNCTION=bundled_trace_csv -P embed_file.cmake
file(READ "${INPUT}" content)
string(LENGTH "${content}" length)
set(chunk 60000)
set(body "")
set(offset 0)
while(offset LESS length)
  string(SUBSTRING "${content}" ${offset} ${chunk} piece)
  string(APPEND body "    R\"dsoembed(${piece})dsoembed\",\n")
  math(EXPR offset "${offset} + ${chunk}")
endwhile()
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by embed_file.cmake; do not edit.
#include <string>
#include <string_view>

namespace dso::sim {

std::string_view ${FUNCTION}() {
  static const char* const kChunks[] = {
${body}  };
  static const std::string kText = [] {
    std::string text;
    for (const char* chunk : kChunks) text += chunk;
    return text;
  }();
  return kText;
}

}  // namespace dso::sim
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
