// mpshm: lets a spawned child run its target even if main() never calls
// mpshm::freeze_support(): the first mpshm object the child's main() makes
// (a segment, a Process, a start method) hands control to the target instead.
// SPDX-License-Identifier: MIT
#pragma once

namespace mpshm::detail {

// Set (by process.hpp) only in a process started by spawn that has not run
// its target yet; null everywhere else, so the check costs one load.
inline void (*&spawn_dispatcher() noexcept)() {
    static void (*dispatch)() = nullptr;
    return dispatch;
}

inline void dispatch_if_spawned() {
    if (auto* dispatch = spawn_dispatcher()) dispatch();
}

}  // namespace mpshm::detail
