// mpshm: sleeping in the kernel until a shared 32-bit word changes (Linux futex).
// SPDX-License-Identifier: MIT
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>

namespace mpshm::detail::posix {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// Why not pthread_cond_t: glibc's process-shared condition variable keeps
// per-waiter bookkeeping in shared memory, and a waiter killed at the wrong
// moment can make later signallers block for ever. A futex wait leaves
// nothing behind: a killed waiter simply stops waiting.
//
// Sleeps while *word == expected, until woken or DEADLINE (steady clock,
// which is CLOCK_MONOTONIC on Linux). Returns false only on timeout.
inline bool futex_wait(std::uint32_t* word, std::uint32_t expected, const Deadline& deadline) {
    timespec abs{};
    if (deadline) {
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch())
                .count();
        if (ns <= 0) return false;
        abs.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
        abs.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    }
    // Not FUTEX_PRIVATE_FLAG: the word is shared between processes.
    const long r = ::syscall(SYS_futex, word, FUTEX_WAIT_BITSET, expected,
                             deadline ? &abs : nullptr, nullptr, FUTEX_BITSET_MATCH_ANY);
    if (r == 0) return true;
    return errno != ETIMEDOUT;  // EAGAIN (the word changed) and EINTR: look again
}

inline void futex_wake(std::uint32_t* word, int count) {
    ::syscall(SYS_futex, word, FUTEX_WAKE, count, nullptr, nullptr, 0);
}

}  // namespace mpshm::detail::posix
