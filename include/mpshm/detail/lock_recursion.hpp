// mpshm: what both platforms' robust mutexes share: what an acquisition
// reports, and what happens when the owner acquires again.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>

#include <mpshm/errors.hpp>

namespace mpshm::detail {

enum class Acquired : std::uint8_t {
    no,                  // timed out, or busy without blocking
    yes,                 // acquired
    previous_owner_died  // acquired; the previous owner died holding it
};

// The owner acquires again. An RLock (RECURSIVE) counts it in DEPTH; a Lock
// reports it, as busy when not BLOCKING and otherwise as an error, where
// Python's Lock would deadlock.
inline Acquired relock(std::atomic<std::uint32_t>& depth, bool recursive, bool blocking) {
    if (recursive) {
        const std::uint32_t now = depth.load(std::memory_order_relaxed);
        if (now == UINT32_MAX) throw Error("mpshm: RLock acquired too many times recursively");
        depth.store(now + 1, std::memory_order_relaxed);
        return Acquired::yes;
    }
    if (!blocking) return Acquired::no;
    throw Error(
        "mpshm: acquiring a Lock this thread already holds would deadlock "
        "(use RLock to re-acquire)");
}

}  // namespace mpshm::detail
