# Sourced by the other scripts: makes sure the Debian packages mpshm builds
# with are installed. As root it installs what is missing; otherwise it stops
# and prints the exact apt-get line to run.
#   mpshm_ensure_deps [extra-package ...]

mpshm_missing_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    case "$pkg" in
      # Tools count as present when they are on PATH, however installed.
      cmake|make|python3) command -v "$pkg" >/dev/null 2>&1 && continue ;;
      g++) command -v g++ >/dev/null 2>&1 && continue ;;
      clang) command -v clang++ >/dev/null 2>&1 && continue ;;
      clang-tidy) command -v clang-tidy >/dev/null 2>&1 && continue ;;
    esac
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  echo "${missing[@]}"
}

mpshm_ensure_deps() {
  local wanted=(cmake make g++ libboost-dev libgtest-dev libbenchmark-dev python3 "$@")
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "mpshm: not a Debian system; assuming these are installed: ${wanted[*]}" >&2
    return 0
  fi
  local missing
  missing=$(mpshm_missing_packages "${wanted[@]}")
  [[ -z "$missing" ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "mpshm: missing packages. Install them with:" >&2
    echo "  sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "mpshm: installing $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # word splitting intended: a list of packages
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
