// mpshm: a process-shared mutex that survives the death of its owner.
// SPDX-License-Identifier: MIT
#pragma once

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>

#include <mpshm/errors.hpp>

namespace mpshm::detail::posix {

// This thread's id, without a system call after the first. A fork()ed child
// is a new thread with a new id: the cache is reset for it.
inline thread_local ::pid_t cached_tid = 0;
inline ::pid_t current_tid() noexcept {
    static const bool reset_on_fork = [] {
        ::pthread_atfork(nullptr, nullptr, [] { cached_tid = 0; });
        return true;
    }();
    (void)reset_on_fork;
    if (cached_tid == 0) cached_tid = static_cast<::pid_t>(::syscall(SYS_gettid));
    return cached_tid;
}

// Why hand-written: Boost.Interprocess's mutexes are not robust (1.74), and
// from 1.78 an owner's death leaves them unusable for good. A process killed
// while holding a lock must never wedge the others, so this wraps a pthread
// mutex with PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST: when the owner
// dies, the kernel hands the lock to the next waiter with EOWNERDEAD, and we
// make it consistent and report the recovery instead of deadlocking.
//
// It lives inside a shared segment: init() once by the creator, before the
// segment is published; never destroyed (the segment's memory just goes).
// Everything else goes through the small interface below, so the lock can
// change inside without touching its users.
class RobustMutex {
  public:
    enum class Acquired : std::uint8_t {
        no,                  // timed out, or busy without blocking
        yes,                 // acquired
        previous_owner_died  // acquired; the previous owner died holding it
    };

    // RECURSIVE: Python's RLock (the owning thread may re-acquire); otherwise
    // Python's Lock, where re-acquiring from the owner is reported instead of
    // deadlocking.
    void init(bool recursive) {
        pthread_mutexattr_t attr;
        check(pthread_mutexattr_init(&attr), "pthread_mutexattr_init");
        pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
        pthread_mutexattr_settype(&attr,
                                  recursive ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK);
        const int err = pthread_mutex_init(&mutex_, &attr);
        pthread_mutexattr_destroy(&attr);
        check(err, "pthread_mutex_init");
    }

    // Blocks until acquired.
    Acquired lock() { return settle(pthread_mutex_lock(&mutex_)); }

    Acquired try_lock() { return settle(pthread_mutex_trylock(&mutex_)); }

    // Waits at most TIMEOUT, measured on the monotonic clock.
    Acquired lock_for(std::chrono::nanoseconds timeout) {
        if (timeout <= std::chrono::nanoseconds::zero()) return try_lock();
        timespec deadline{};
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        const auto total = std::chrono::nanoseconds(deadline.tv_nsec) + timeout;
        deadline.tv_sec +=
            static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(total).count());
        deadline.tv_nsec = static_cast<long>((total % std::chrono::seconds(1)).count());
        return settle(pthread_mutex_clocklock(&mutex_, CLOCK_MONOTONIC, &deadline));
    }

    // Returns false if the calling thread does not hold the lock.
    [[nodiscard]] bool unlock() noexcept { return pthread_mutex_unlock(&mutex_) == 0; }

    // Whether the calling thread holds the lock. glibc keeps the owner's
    // thread id in the mutex (part of its published struct layout).
    [[nodiscard]] bool held_by_me() const noexcept {
        return (static_cast<unsigned>(mutex_.__data.__owner) & FUTEX_TID_MASK) ==
               static_cast<unsigned>(current_tid());
    }

  private:
    static void check(int err, const char* what) {
        if (err != 0) throw std::system_error(err, std::system_category(), what);
    }

    Acquired settle(int err) {
        switch (err) {
            case 0:
                return Acquired::yes;
            case EOWNERDEAD:
                // The owner died holding the lock: it is ours now. Mark it
                // consistent so that it stays usable after we release it.
                pthread_mutex_consistent(&mutex_);
                return Acquired::previous_owner_died;
            case EBUSY:
            case ETIMEDOUT:
                return Acquired::no;
            case EDEADLK:
                throw Error(
                    "mpshm: acquiring a Lock this thread already holds would deadlock "
                    "(use RLock to re-acquire)");
            case EAGAIN:
                throw Error("mpshm: RLock acquired too many times recursively");
            default:
                throw std::system_error(err, std::system_category(), "mpshm: robust mutex");
        }
    }

    pthread_mutex_t mutex_;
};

}  // namespace mpshm::detail::posix
