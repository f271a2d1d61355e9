// Tests for mpshm/condition.hpp: Condition across processes.
// SPDX-License-Identifier: MIT
#include <chrono>
#include <mutex>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

// POSIX only: fork()ed children, sharing the condition they inherit.
#if !defined(_WIN32)
using mpshm_test::exit_code;

TEST(Condition, WaitForSeesAPredicateChangedByAnotherProcess) {
    mp::Condition<> cond;
    mp::Value<int> counter(0, cond.get_lock());  // guarded by the condition's own lock
    const ::pid_t producer = mpshm_test::start_child([&] {
        for (int i = 0; i < 5; ++i) {
            std::lock_guard hold(cond);
            counter.get_obj() += 1;
            cond.notify_all();
        }
        return 0;
    });
    {
        std::lock_guard hold(cond);
        EXPECT_TRUE(cond.wait_for([&] { return counter.get_obj() == 5; }, 20s));
    }
    EXPECT_EQ(exit_code(mpshm_test::wait_child(producer)), 0);
    EXPECT_EQ(counter.load(), 5);
}
#endif  // !defined(_WIN32)

TEST(Condition, WaitForTimesOutWithThePredicatesValue) {
    mp::Condition<mp::Lock> cond;
    std::lock_guard hold(cond);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(cond.wait_for([] { return false; }, 200ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
    EXPECT_FALSE(cond.wait(50ms));
    EXPECT_TRUE(cond.wait_for([] { return true; }, 0ms));
}

TEST(Condition, WaitingWithoutTheLockIsAnError) {
    mp::Condition<> cond;
    EXPECT_THROW(cond.wait(10ms), std::logic_error);
    EXPECT_THROW(cond.wait(), std::logic_error);
}

// POSIX only: fork()ed children, sharing the condition they inherit.
#if !defined(_WIN32)
TEST(Condition, WaitReleasesAnRLockCompletelyAndRestoresIt) {
    mp::Condition<> cond;
    mp::Value<int> step(0, cond.get_lock());
    cond.acquire();
    cond.acquire();  // held twice
    const ::pid_t other = mpshm_test::start_child([&] {
        // Can only get here while the parent waits, as the lock is free then.
        std::lock_guard hold(cond);
        step.get_obj() = 1;
        cond.notify();
        return 0;
    });
    EXPECT_TRUE(cond.wait_for([&] { return step.get_obj() == 1; }, 20s));
    EXPECT_EQ(cond.get_lock().depth(), 2U);
    cond.release();
    cond.release();
    EXPECT_THROW(cond.release(), std::invalid_argument);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(other)), 0);
}

TEST(Condition, NotifyAllWakesEveryWaiterAndAttachFindsTheSharedLock) {
    mp::RLock lock;
    mp::Condition<> cond(lock);
    mp::Value<int> go(0, lock);
    mp::Value<int> woken(0);
    std::vector<::pid_t> waiters;
    for (int i = 0; i < 3; ++i) {
        waiters.push_back(mpshm_test::start_child([&, name = cond.name()] {
            auto attached = mp::Condition<>::attach(name);  // finds `lock` by name
            std::lock_guard hold(attached);
            if (!attached.wait_for([&] { return go.get_obj() == 1; }, 20s)) return 1;
            woken += 1;
            return 0;
        }));
    }
    {
        std::lock_guard hold(lock);
        go.get_obj() = 1;
        cond.notify_all();
    }
    int ok = 0;
    for (const auto pid : waiters) ok += exit_code(mpshm_test::wait_child(pid)) == 0 ? 1 : 0;
    EXPECT_EQ(ok, 3);
    EXPECT_EQ(woken.load(), 3);
}
#endif  // !defined(_WIN32)
