// mpshm: waiting for shared state to change, and waking those who wait.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
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

// No deadline: wait as long as it takes. One constant rather than a
// temporary std::nullopt at each call, whose (never read) payload g++ 12's
// -Wmaybe-uninitialized takes for uninitialised once it is inlined deep.
inline constexpr Deadline no_deadline{};

template <typename Rep, typename Period>
Deadline deadline_after(std::chrono::duration<Rep, Period> timeout) {
    const auto t = std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    return std::chrono::steady_clock::now() +
           (t.count() < 0 ? std::chrono::steady_clock::duration{} : t);
}

inline bool passed(const Deadline& deadline) {
    return deadline && std::chrono::steady_clock::now() >= *deadline;
}

// How long a timed call may still wait to take its object's internal lock
// back once its deadline has passed (or, for a call that does not block, to
// take it at all): the lock is held only for the moment an operation takes,
// so this is scheduling slack; a lock held longer (a peer stopped, or
// hostile) makes the call give up instead of waiting for ever.
inline constexpr std::chrono::milliseconds internal_lock_grace{50};

// The latest a call with DEADLINE may take its internal lock; none without one.
inline Deadline lock_deadline(const Deadline& deadline) {
    if (!deadline) return std::nullopt;
    return std::max(*deadline, std::chrono::steady_clock::now()) + internal_lock_grace;
}

// How a Wakeup::wait ended.
enum class Waited : std::uint8_t {
    woken,     // the lock is held again (the wake may be spurious: look again)
    timed_out, // the deadline passed; the lock is held again
    lock_lost  // the deadline passed and the lock could not be taken back: not held
};

// A condition variable in shared memory, built on a futex sequence word (on
// Win32, a named event per value of it): a waiter notes the sequence,
// releases the lock and sleeps while the sequence is unchanged; a notifier
// bumps it and wakes sleepers. A waiter killed while asleep leaves nothing
// to clean up, unlike pthread_cond_t.
struct Wakeup {
    std::uint32_t sequence;
    std::uint32_t sleepers;  // only lets notify() skip the syscall when nobody sleeps

    // Called with LOCK held. Sleeps until woken or DEADLINE, then takes the
    // lock back, waiting for it no later than lock_deadline(DEADLINE), so a
    // timed wait ends in time whatever holds the lock or the word.
    template <typename Lock>
    Waited wait(Lock& lock, const Deadline& deadline) {
        const std::uint32_t observed = prepare();
        lock.unlock();  // never throws: a lost lock is reported by the next acquire
        const bool woken = sleep(observed, deadline);
        const bool held = lock.acquire_until(lock_deadline(deadline));
        finish();
        if (!held) return Waited::lock_lost;
        return woken ? Waited::woken : Waited::timed_out;
    }

    // The pieces of wait(), for callers that release their lock their own
    // way: prepare() while still holding it (so no notify can slip between),
    // sleep() without it, finish() once it is held again.
    std::uint32_t prepare() {
        std::atomic_ref<std::uint32_t>(sleepers).fetch_add(1, std::memory_order_relaxed);
        return std::atomic_ref<std::uint32_t>(sequence).load(std::memory_order_acquire);
    }
    // False once DEADLINE has passed, however often the word changed: a
    // peer that keeps changing it cannot stretch a timed wait.
    bool sleep(std::uint32_t observed, const Deadline& deadline) {
        return wait_for_change(&sequence, observed, deadline) && !passed(deadline);
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
