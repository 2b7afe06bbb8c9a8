#!/usr/bin/env bash
# The house's checks of C++ style (docs/development.md).
#
#   hack/lint.sh                 clang-format: every tracked .cc/.h must be formatted (hack/test.sh
#                                runs this; fix with: git ls-files '*.cc' '*.h' | xargs clang-format -i)
#   hack/lint.sh --tidy [BASE]   also clang-tidy (.clang-tidy) on the .cc files changed since BASE
#                                (default HEAD~1), with the build's compile_commands.json
#
# clang-tidy is Debian's clang-tidy-16: clang 14 cannot parse the code (no C++23 <expected>). Clang
# 16 defines __cpp_concepts as 201907 although it implements what libstdc++ 12's <expected> needs,
# so the macro is raised for the analysis. Environment: BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")/.."

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t sources < <(git ls-files '*.cc' '*.h')
else  # a copy without .git: the same folders
  mapfile -t sources < <(find operator predictor inference-pod tests -name '*.cc' -o -name '*.h')
fi
[ ${#sources[@]} -gt 0 ] || { echo "lint: no C++ files found" >&2; exit 2; }
if ! clang-format --dry-run -Werror "${sources[@]}" </dev/null 2>/tmp/dso-clang-format.$$; then
  grep -E '^[^ ].*: (error|warning):' /tmp/dso-clang-format.$$ | cut -d: -f1 | sort -u |
    sed 's/^/not formatted: /' >&2
  rm -f /tmp/dso-clang-format.$$
  echo "lint: run clang-format -i on the files above" >&2
  exit 1
fi
rm -f /tmp/dso-clang-format.$$
echo "lint: ${#sources[@]} C++ files formatted"

[ "${1:-}" = --tidy ] || exit 0
base=${2:-HEAD~1}
build=${BUILD_DIR:-build}
[ -f "$build/compile_commands.json" ] || { echo "lint: no $build/compile_commands.json (build first)" >&2; exit 2; }
mapfile -t changed < <(git diff --name-only --diff-filter=AM "$base" -- '*.cc')
[ ${#changed[@]} -gt 0 ] || { echo "lint: no .cc file changed since $base"; exit 0; }
clang-tidy-16 -p "$build" --quiet --extra-arg=-std=c++2b --extra-arg=-U__cpp_concepts \
  --extra-arg=-D__cpp_concepts=202002L "${changed[@]}"
