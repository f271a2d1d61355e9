// mpshm: Python's multiprocessing shared memory for C++.
// SPDX-License-Identifier: MIT
#pragma once

// The single source of the version: CMakeLists.txt reads these lines.
#define MPSHM_VERSION_MAJOR 0
#define MPSHM_VERSION_MINOR 1
#define MPSHM_VERSION_PATCH 0

namespace mpshm {
inline constexpr int version_major = MPSHM_VERSION_MAJOR;
inline constexpr int version_minor = MPSHM_VERSION_MINOR;
inline constexpr int version_patch = MPSHM_VERSION_PATCH;
}  // namespace mpshm
