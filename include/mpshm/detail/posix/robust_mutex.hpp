// mpshm: a process-shared mutex that survives the death of its owner.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>

#include <mpshm/detail/lock_recursion.hpp>
#include <mpshm/detail/posix/futex.hpp>
#include <mpshm/detail/posix/proc.hpp>
#include <mpshm/errors.hpp>

namespace mpshm::detail::posix {

// Who holds a RobustMutex, in one 64-bit word that a single compare-and-swap
// takes:
//   bits  0..29  the owner's thread id (Linux's pid_max is at most 2^22)
//   bit   30     someone may be asleep waiting for the lock
//   bits 32..43  a hash of the owner's pid namespace, 0 when unknown
//   bits 44..63  the low 20 bits of the owner thread's start time (clock
//                ticks since boot, from /proc), so that a thread id reused
//                by a newer thread is not mistaken for the dead owner
namespace owner_word {
inline constexpr std::uint64_t tid_mask = (1ULL << 30) - 1;
inline constexpr std::uint64_t waiters = 1ULL << 30;
inline constexpr int ns_shift = 32;
inline constexpr std::uint64_t ns_mask = 0xfffULL;
inline constexpr int start_shift = 44;
inline constexpr std::uint64_t start_mask = 0xfffffULL;

inline ::pid_t tid(std::uint64_t w) {
    return static_cast<::pid_t>(w & tid_mask);
}
inline std::uint64_t ns(std::uint64_t w) {
    return (w >> ns_shift) & ns_mask;
}
inline std::uint64_t start(std::uint64_t w) {
    return (w >> start_shift) & start_mask;
}
inline std::uint64_t identity(std::uint64_t w) {
    return w & ~waiters;
}
}  // namespace owner_word

// This process's pid namespace, hashed to 12 bits, never 0 (0: unknown).
inline std::uint64_t pid_namespace_hash() {
    struct ::stat st {};
    if (::stat("/proc/self/ns/pid", &st) != 0) return 0;
    return static_cast<std::uint64_t>(st.st_ino) % owner_word::ns_mask + 1;
}

// This thread's owner word, computed once per thread. A fork()ed child is
// a new thread with a new id: the cache is reset for it.
inline thread_local std::uint64_t cached_owner = 0;
inline std::uint64_t compute_owner() noexcept {
    static const bool reset_on_fork = [] {
        ::pthread_atfork(nullptr, nullptr, [] { cached_owner = 0; });
        return true;
    }();
    (void)reset_on_fork;
    const auto tid = static_cast<::pid_t>(::syscall(SYS_gettid));
    const ThreadStatus me = thread_status(tid);
    const std::uint64_t ns = me.state == ThreadStatus::State::running ? pid_namespace_hash() : 0;
    cached_owner = static_cast<std::uint64_t>(tid) | (ns << owner_word::ns_shift) |
                   ((me.start_time & owner_word::start_mask) << owner_word::start_shift);
    return cached_owner;
}
inline std::uint64_t current_owner() noexcept {
    const std::uint64_t owner = cached_owner;
    return owner != 0 ? owner : compute_owner();
}

// Whether the thread named in owner word W is certainly gone. QUICK asks
// only whether its id still exists (one system call); otherwise /proc also
// tells a zombie and a reused id apart. An owner in another pid namespace,
// or where /proc cannot be read, is never declared dead on a guess.
inline bool owner_is_dead(std::uint64_t w, bool quick) {
    const std::uint64_t mine = current_owner();
    if (owner_word::ns(w) != owner_word::ns(mine)) return false;
    const ::pid_t tid = owner_word::tid(w);
    if (quick || owner_word::ns(mine) == 0) return ::kill(tid, 0) != 0 && errno == ESRCH;
    const ThreadStatus status = thread_status(tid);
    switch (status.state) {
        case ThreadStatus::State::zombie:
            return true;
        case ThreadStatus::State::missing:  // or hidden from us (hidepid): ask the kernel
            return ::kill(tid, 0) != 0 && errno == ESRCH;
        case ThreadStatus::State::unknown:
            return false;
        case ThreadStatus::State::running:
            break;
    }
    return status.state == ThreadStatus::State::running &&
           (status.start_time & owner_word::start_mask) != owner_word::start(w);
}

// Why hand-written: Boost.Interprocess's mutexes are not robust (1.74), and
// from 1.78 an owner's death leaves them unusable for good. glibc's robust
// pthread mutex is, but it links every held mutex into a per-thread list on
// each lock and unlock, which costs 20-40% over a plain mutex.
//
// This lock keeps its owner's identity in its word (see owner_word), so:
// - an uncontended lock is one compare-and-swap, and unlock one exchange;
// - a waiter that finds the lock taken sleeps on a futex;
//   it checks the owner is alive when its wait begins and again each time a
//   sleep runs long (1 ms, doubling to 100 ms), so a dead owner's lock is
//   taken over by one waiter, which is told (previous_owner_died);
// - an owner's thread id reused by another thread is told apart by the
//   thread's start time; a zombie owner counts as dead.
// Recursion is counted in the lock itself, by its owner only.
//
// It lives inside a shared segment: init() once by the creator, before the
// segment is published; never destroyed (the segment's memory just goes).
class RobustMutex {
  public:
    using Acquired = detail::Acquired;

    // RECURSIVE: Python's RLock (the owning thread may re-acquire); otherwise
    // Python's Lock, where re-acquiring from the owner is reported instead of
    // deadlocking.
    void init(bool recursive) {
        word_.store(0, std::memory_order_relaxed);
        depth_.store(0, std::memory_order_relaxed);
        recursive_ = recursive ? 1 : 0;
    }

    // Blocks until acquired.
    Acquired lock() {
        const std::uint64_t me = current_owner();
        std::uint64_t seen = 0;
        if (take_free(me, seen)) [[likely]]
            return Acquired::yes;
        return lock_slow(me, seen, std::nullopt);
    }

    Acquired try_lock() {
        const std::uint64_t me = current_owner();
        std::uint64_t seen = 0;
        if (take_free(me, seen)) return Acquired::yes;
        if (owner_word::identity(seen) == me) return relock(false);
        if (seen != 0 && owner_is_dead(seen, false)) return take_over(seen, me);
        return Acquired::no;
    }

    // Waits at most TIMEOUT, measured on the monotonic clock.
    Acquired lock_for(std::chrono::nanoseconds timeout) {
        if (timeout <= std::chrono::nanoseconds::zero()) return try_lock();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        const std::uint64_t me = current_owner();
        std::uint64_t seen = 0;
        if (take_free(me, seen)) return Acquired::yes;
        return lock_slow(me, seen, deadline);
    }

    // Returns false if the calling thread does not hold the lock. The depth
    // is read before we know we own the lock, so it is only a hint until the
    // compare-and-swap (which fails unless the word is exactly ours) agrees.
    [[nodiscard]] bool unlock() noexcept {
        const std::uint64_t me = current_owner();
        const std::uint32_t depth = depth_.load(std::memory_order_relaxed);
        if (depth == 1) [[likely]] {
            std::uint64_t seen = me;
            if (word_.compare_exchange_strong(seen, 0, std::memory_order_release,
                                              std::memory_order_relaxed)) [[likely]]
                return true;
            if (owner_word::identity(seen) != me) return false;
            // Ours, with sleepers: only we can clear the word now.
            word_.store(0, std::memory_order_release);
            futex_wake(futex_word(), 1);
            return true;
        }
        if (owner_word::identity(word_.load(std::memory_order_relaxed)) != me) return false;
        depth_.store(depth - 1, std::memory_order_relaxed);
        return true;
    }

    // Whether the calling thread holds the lock.
    [[nodiscard]] bool held_by_me() const noexcept {
        return owner_word::identity(word_.load(std::memory_order_relaxed)) == current_owner();
    }

    // How many times the calling thread holds the lock (0 if it does not).
    [[nodiscard]] std::uint32_t depth() const noexcept {
        return held_by_me() ? depth_.load(std::memory_order_relaxed) : 0;
    }

  private:
    static constexpr auto first_check = std::chrono::milliseconds(1);
    static constexpr auto longest_check = std::chrono::milliseconds(100);

    // The futex is the word's low half: thread id and waiters bit.
    std::uint32_t* futex_word() noexcept {
        static_assert(std::endian::native == std::endian::little,
                      "mpshm: the lock's futex is the low half of its word");
        static_assert(sizeof(std::atomic<std::uint64_t>) == sizeof(std::uint64_t));
        return reinterpret_cast<std::uint32_t*>(&word_);
    }

    // Takes the lock if it is free (one compare-and-swap); otherwise SEEN is
    // its word.
    bool take_free(std::uint64_t me, std::uint64_t& seen) noexcept {
        if (!word_.compare_exchange_strong(seen, me, std::memory_order_acquire,
                                           std::memory_order_relaxed))
            return false;
        depth_.store(1, std::memory_order_relaxed);
        return true;
    }

    Acquired relock(bool blocking) { return detail::relock(depth_, recursive_ != 0, blocking); }

    // The owner in SEEN is dead: take the lock from it, if no one else did.
    Acquired take_over(std::uint64_t seen, std::uint64_t me) {
        if (!word_.compare_exchange_strong(seen, me | (seen & owner_word::waiters),
                                           std::memory_order_acquire, std::memory_order_relaxed))
            return Acquired::no;
        depth_.store(1, std::memory_order_relaxed);
        return Acquired::previous_owner_died;
    }

    Acquired lock_slow(std::uint64_t me, std::uint64_t seen, const Deadline& deadline) {
        if (owner_word::identity(seen) == me) return relock(true);
        // No spinning: measured with 2 to 8 processes on 2 cores, a spinning
        // waiter keeps pulling the lock's cache line from the owner and
        // costs more than it saves (bench/contended_bench.cpp).
        bool checked = false;
        auto check_every = std::chrono::nanoseconds(first_check);
        for (;;) {
            seen = word_.load(std::memory_order_relaxed);
            if (seen == 0) {
                // Others may still sleep: keep the waiters bit for our unlock.
                if (word_.compare_exchange_weak(seen, me | owner_word::waiters,
                                                std::memory_order_acquire,
                                                std::memory_order_relaxed)) {
                    depth_.store(1, std::memory_order_relaxed);
                    return Acquired::yes;
                }
                continue;
            }
            if ((seen & owner_word::waiters) == 0) {
                if (!word_.compare_exchange_weak(seen, seen | owner_word::waiters,
                                                 std::memory_order_relaxed))
                    continue;
                seen |= owner_word::waiters;
            }
            if (!checked) {
                checked = true;
                if (owner_is_dead(seen, true)) {
                    const Acquired got = take_over(seen, me);
                    if (got != Acquired::no) return got;
                    continue;
                }
            }
            const auto now = std::chrono::steady_clock::now();
            if (deadline && now >= *deadline) return Acquired::no;
            auto wake_at = now + check_every;
            if (deadline) wake_at = std::min(wake_at, *deadline);
            if (futex_wait(futex_word(), static_cast<std::uint32_t>(seen), wake_at)) continue;
            // Slept long: is the owner still there?
            check_every = std::min<std::chrono::nanoseconds>(check_every * 2, longest_check);
            seen = word_.load(std::memory_order_relaxed);
            if (seen != 0 && owner_is_dead(seen, false)) {
                const Acquired got = take_over(seen, me);
                if (got != Acquired::no) return got;
            }
        }
    }

    std::atomic<std::uint64_t> word_;
    // Written by the owner only, while it holds the lock: set to 1 by every
    // acquisition, so a release need not reset it. Atomic only because a
    // non-owner's unlock() reads it before finding out it is not the owner.
    std::atomic<std::uint32_t> depth_;
    std::uint32_t recursive_;  // fixed at init
};

}  // namespace mpshm::detail::posix
