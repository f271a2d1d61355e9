// Tests for mpshm/semaphore.hpp: Semaphore and BoundedSemaphore across processes.
// SPDX-License-Identifier: MIT
#include <chrono>
#include <mutex>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

// POSIX only: fork()ed children, handed a go-ahead through a pipe.
#if !defined(_WIN32)
using mpshm_test::exit_code;
using mpshm_test::run_in_child;

TEST(Semaphore, CountsAcquisitionsAcrossProcesses) {
    mp::Semaphore sem(2);
    EXPECT_EQ(sem.get_value(), 2);
    EXPECT_TRUE(sem.acquire());
    const int status = run_in_child([name = sem.name()] {
        auto other = mp::Semaphore::attach(name);
        if (!other.acquire(false)) return 1;  // the second unit
        return other.acquire(false) ? 2 : 0;  // none left
    });
    EXPECT_EQ(exit_code(status), 0);
    EXPECT_EQ(sem.get_value(), 0);
    EXPECT_FALSE(sem.acquire(false));
    sem.release();
    EXPECT_EQ(sem.get_value(), 1);
    {
        std::lock_guard hold(sem);
        EXPECT_EQ(sem.get_value(), 0);
    }
    EXPECT_EQ(sem.get_value(), 1);
}

TEST(Semaphore, ABlockedAcquireWakesWhenAnotherProcessReleases) {
    mp::Semaphore sem(0);
    mpshm_test::Pipe about_to_wait;
    const ::pid_t releaser = mpshm_test::start_child([&] {
        about_to_wait.wait();
        mp::Semaphore::attach(sem.name()).release();
        return 0;
    });
    about_to_wait.signal();
    EXPECT_TRUE(sem.acquire(20s));
    EXPECT_EQ(exit_code(mpshm_test::wait_child(releaser)), 0);
}

TEST(Semaphore, TimedAcquireReturnsInTimeWhileAPeerHoldsItsLock) {
    mp::Semaphore sem(1);
    const ::pid_t holder =
        mpshm_test::start_child_holding([&] { mp::Lock::attach(sem.name()).acquire(); });
    const int code = mpshm_test::run_in_child_within(20s, [&] {
        const auto start = std::chrono::steady_clock::now();
        if (sem.acquire(100ms)) return 1;
        if (sem.acquire(false)) return 2;
        return std::chrono::steady_clock::now() - start < 2s ? 0 : 3;
    });
    mpshm_test::kill_and_reap(holder);
    EXPECT_EQ(code, 0);
}
#endif  // !defined(_WIN32)

TEST(Semaphore, TimedAcquireReturnsNearTheDeadline) {
    mp::Semaphore sem(0);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(sem.acquire(200ms));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
    EXPECT_FALSE(sem.acquire(-5ms));
}

TEST(Semaphore, BadValuesAreRefused) {
    EXPECT_THROW(mp::Semaphore(-1), std::invalid_argument);
    mp::BoundedSemaphore bounded(1);
    EXPECT_THROW(bounded.release(), std::invalid_argument);
    EXPECT_EQ(bounded.get_value(), 1);
    bounded.acquire();
    bounded.release();
    mp::Semaphore unbounded(0);
    unbounded.release();
    unbounded.release();
    EXPECT_EQ(unbounded.get_value(), 2);
    EXPECT_THROW(mp::Semaphore::attach(bounded.name()), mp::TypeMismatchError);
}

// POSIX only: fork()ed children killed with SIGKILL.
#if !defined(_WIN32)
TEST(Semaphore, AWaiterKilledWhileBlockedTakesNothingAndWedgesNothing) {
    mp::Semaphore sem(0);
    const ::pid_t waiter = mpshm_test::start_child([&] {
        sem.acquire();
        return 0;
    });
    EXPECT_FALSE(sem.acquire(50ms));  // the waiter is (or will be) blocked
    mpshm_test::kill_and_reap(waiter);
    sem.release();
    EXPECT_EQ(sem.get_value(), 1);
    EXPECT_TRUE(sem.acquire(1s));
}

TEST(Semaphore, AProcessKilledHoldingTheInternalLockWedgesNothing) {
    mp::Semaphore sem(1);
    // The internal lock is an ordinary robust Lock inside the segment.
    const ::pid_t holder =
        mpshm_test::start_child_holding([&] { mp::Lock::attach(sem.name()).acquire(); });
    mpshm_test::kill_and_reap(holder);
    EXPECT_TRUE(sem.acquire(1s));
    sem.release();
    EXPECT_EQ(sem.get_value(), 1);
}
#endif  // !defined(_WIN32)
