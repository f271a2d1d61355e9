// Tests for mpshm/event.hpp: Event across processes.
// SPDX-License-Identifier: MIT
#include <chrono>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

// POSIX only: fork()ed children (tests/win32/synchronize_win32_test.cpp spawns them).
#if !defined(_WIN32)
using mpshm_test::exit_code;

TEST(Event, SetInOneProcessWakesAWaiterInAnother) {
    mp::Event event;
    EXPECT_FALSE(event.is_set());
    const ::pid_t setter = mpshm_test::start_child([name = event.name()] {
        mp::Event::attach(name).set();
        return 0;
    });
    EXPECT_TRUE(event.wait(20s));
    EXPECT_TRUE(event.is_set());
    EXPECT_EQ(exit_code(mpshm_test::wait_child(setter)), 0);
    event.clear();
    const int seen = mpshm_test::run_in_child(
        [name = event.name()] { return mp::Event::attach(name).is_set() ? 1 : 0; });
    EXPECT_EQ(exit_code(seen), 0);
}

TEST(Event, SetWakesEveryWaiter) {
    mp::Event event;
    const int ok = [&] {
        std::vector<::pid_t> waiters;
        for (int i = 0; i < 3; ++i) {
            waiters.push_back(mpshm_test::start_child([&] { return event.wait(20s) ? 0 : 1; }));
        }
        event.set();
        int good = 0;
        for (const auto pid : waiters) good += exit_code(mpshm_test::wait_child(pid)) == 0 ? 1 : 0;
        return good;
    }();
    EXPECT_EQ(ok, 3);
}

TEST(Event, ATimedWaitReturnsInTimeWhileAPeerHoldsItsLock) {
    mp::Event event;
    const ::pid_t holder =
        mpshm_test::start_child_holding([&] { mp::Lock::attach(event.name()).acquire(); });
    const int code = mpshm_test::run_in_child_within(20s, [&] {
        const auto start = std::chrono::steady_clock::now();
        if (event.wait(5ms)) return 1;
        return std::chrono::steady_clock::now() - start < 2s ? 0 : 2;
    });
    mpshm_test::kill_and_reap(holder);
    EXPECT_EQ(code, 0);
}

#endif  // !defined(_WIN32)

TEST(Event, TimedWaitReturnsFalseNearTheDeadline) {
    mp::Event event;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(event.wait(200ms));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
    event.set();
    EXPECT_TRUE(event.wait(0ms));
}

// POSIX only: a fork()ed waiter killed with SIGKILL.
#if !defined(_WIN32)
TEST(Event, AKilledWaiterWedgesNothing) {
    mp::Event event;
    const ::pid_t waiter = mpshm_test::start_child([&] { return event.wait() ? 0 : 1; });
    EXPECT_FALSE(event.wait(50ms));
    mpshm_test::kill_and_reap(waiter);
    event.set();
    const int status = mpshm_test::run_in_child([&] { return event.wait(1s) ? 0 : 1; });
    EXPECT_EQ(exit_code(status), 0);
}
#endif  // !defined(_WIN32)
