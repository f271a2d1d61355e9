#!/usr/bin/env bash
# Runs clang-tidy (Debian's, version 14, with the repository's .clang-tidy)
# over every public and detail header under include/mpshm, and fails on any
# finding. Each header is checked as a translation unit of its own (parsed
# as a header, -x c++-header), so each is also checked to compile on its
# own, and the static analyzer, which looks only at the functions of the
# file it is given, analyses that header's inline functions. (Templates it
# analyses only where instantiated: the AST checks still see them.)
#
# include/mpshm/detail/win32/ is left out: it includes <windows.h> and does
# not compile on Linux.
#
# Environment (optional):
#   MPSHM_TIDY       the clang-tidy to run (default clang-tidy-14, else clang-tidy)
#   MPSHM_TIDY_JOBS  headers checked at once (default 2)
# Arguments: headers to check instead of all of them (paths from the repository root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)
source scripts/deps.sh
mpshm_ensure_deps clang-tidy

tidy=${MPSHM_TIDY:-$(command -v clang-tidy-14 || command -v clang-tidy)}
jobs=${MPSHM_TIDY_JOBS:-2}

if [[ $# -gt 0 ]]; then
  headers=("$@")
else
  mapfile -t headers < <(find include/mpshm -name '*.hpp' -not -path '*/detail/win32/*' | sort)
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' "${headers[@]}" >"$work/headers.txt"

start=$SECONDS
# One clang-tidy per header, its output in a log of its own. Boost is found
# in /usr/include, where Debian's libboost-dev puts it.
# shellcheck disable=SC2016 # the inner sh expands them
xargs -P "$jobs" -I{} sh -c '
  log="$4/$(echo "$2" | tr "/" "_").log"
  "$1" --quiet --config-file="$3/.clang-tidy" "$3/$2" --extra-arg-before=-xc++-header \
    -- -std=c++20 -I"$3/include" >"$log" 2>&1 || echo "$2" >>"$4/failed.txt"' \
  _ "$tidy" {} "$root" "$work" <"$work/headers.txt"

# A finding in a header that others include shows up once per includer:
# report it once.
findings=$(cat "$work"/*.log | grep -E '^/.*: (warning|error): ' | sort -u || true)
if [[ -n "$findings" || -s "$work/failed.txt" ]]; then
  if [[ -n "$findings" ]]; then
    echo "$findings"
  else  # clang-tidy failed without a finding: show why
    cat "$work"/*.log
  fi
  echo "tidy: FAILED: $(grep -c . <<<"$findings") distinct findings;" \
    "$(wc -l <"$work/failed.txt" 2>/dev/null || echo 0) of ${#headers[@]} headers fail" \
    "(a finding fails every header that includes it; $((SECONDS - start)) s)" >&2
  exit 1
fi
echo "tidy: ${#headers[@]} headers clean ($((SECONDS - start)) s)"
