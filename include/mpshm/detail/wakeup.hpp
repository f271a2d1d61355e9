// mpshm: waiting for shared state to change, and waking those who wait.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <optional>

#if defined(_WIN32)
#include <mpshm/detail/win32/futex.hpp>
#else
#include <mpshm/detail/posix/futex.hpp>
#endif

namespace mpshm::detail {

#if defined(_WIN32)
using win32::Deadline;
#else
using posix::Deadline;
#endif

// Sleeps while *WORD == EXPECTED, until woken or DEADLINE; false on timeout.
inline bool wait_for_change(std::uint32_t* word, std::uint32_t expected, const Deadline& deadline) {
#if defined(_WIN32)
    return win32::futex_wait(word, expected, deadline);
#else
    return posix::futex_wait(word, expected, deadline);
#endif
}

// Wakes up to COUNT of those waiting on WORD, which was just changed from
// PREVIOUS (a Win32 wait is named after the value it waits on: see
// win32/futex.hpp; a futex needs only the word).
inline void wake_changed(std::uint32_t* word, std::uint32_t previous, int count) {
#if defined(_WIN32)
    win32::futex_wake(word, previous, count);
#else
    (void)previous;
    posix::futex_wake(word, count);
#endif
}

template <typename Rep, typename Period>
Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
    const auto t = std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    return std::chrono::steady_clock::now() +
           (t.count() < 0 ? std::chrono::steady_clock::duration{} : t);
}

inline bool passed(const Deadline& deadline) {
    return deadline && std::chrono::steady_clock::now() >= *deadline;
}

// A condition variable in shared memory, built on a futex sequence word (on
// Win32, a named event per value of it): a waiter notes the sequence,
// releases the lock and sleeps while the sequence is unchanged; a notifier
// bumps it and wakes sleepers. A waiter killed while asleep leaves nothing
// to clean up, unlike pthread_cond_t.
struct Wakeup {
    std::uint32_t sequence;
    std::uint32_t sleepers;  // only lets notify() skip the syscall when nobody sleeps

    // Called with LOCK held; returns with it held again. Returns false if
    // DEADLINE passed. Wakes may be spurious: callers re-check their state.
    template <typename Lock>
    bool wait(Lock& lock, const Deadline& deadline) {
        const std::uint32_t observed = prepare();
        lock.release();
        const bool woken = sleep(observed, deadline);
        lock.acquire();
        finish();
        return woken;
    }

    // The pieces of wait(), for callers that release their lock their own
    // way: prepare() while still holding it (so no notify can slip between),
    // sleep() without it, finish() once it is held again.
    std::uint32_t prepare() {
        std::atomic_ref<std::uint32_t>(sleepers).fetch_add(1, std::memory_order_relaxed);
        return std::atomic_ref<std::uint32_t>(sequence).load(std::memory_order_acquire);
    }
    bool sleep(std::uint32_t observed, const Deadline& deadline) {
        return wait_for_change(&sequence, observed, deadline) || !passed(deadline);
    }
    void finish() {
        std::atomic_ref<std::uint32_t>(sleepers).fetch_sub(1, std::memory_order_relaxed);
    }

    // Called with the lock held, like prepare(): so when no one is between
    // prepare() and finish() no one can miss this notify, and it writes
    // nothing (a Queue calls it on every put and get).
    void notify(int count = 1) {
        if (std::atomic_ref<std::uint32_t>(sleepers).load(std::memory_order_relaxed) != 0) {
            const std::uint32_t previous =
                std::atomic_ref<std::uint32_t>(sequence).fetch_add(1, std::memory_order_release);
            wake_changed(&sequence, previous, count);
        }
    }

    void notify_all() { notify(INT_MAX); }
};

}  // namespace mpshm::detail
