// Tests for Value, Array, the locks, Event and Queue on Windows (run under
// Wine in CI), with processes started by spawn: the behaviour that
// tests/value_test.cpp, array_test.cpp, lock_test.cpp, event_test.cpp and
// queues_test.cpp check on POSIX with fork(). POSIX-only there, and why:
// fork()ed children and copies of objects they inherit, SIGKILL and SIGSTOP,
// /proc-based owner checks (zombies, reused thread ids, pid namespaces),
// and CPython beside the program (none under Wine). tests/win32/lock_smoke.cpp
// checks more of the Win32 lock (an owner gone with its kernel mutex, a
// thread ending while it holds the lock, Barrier, Condition, Semaphore).
// SPDX-License-Identifier: MIT
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;
using namespace std::chrono_literals;

namespace {

void add_under_lock(mp::Value<int>& total, int times) {
    for (int i = 0; i < times; ++i) total += 1;
}

void add_to_each(mp::Array<long, 8>& counts, int times) {
    for (int n = 0; n < times; ++n) {
        for (std::ptrdiff_t i = 0; i < 8; ++i) counts[i] += 1;
    }
}

void hold_until_killed(mp::Lock& lock, mp::Event& holding) {
    lock.acquire();
    holding.set();
    for (;;) std::this_thread::sleep_for(1h);
}

void hold_for_a_while(mp::Lock& lock, mp::Event& holding, mp::Event& release) {
    lock.acquire();
    holding.set();
    release.wait();
    lock.release();
}

void set_after(mp::Event& event, mp::Value<int>& stamp) {
    stamp.store(1);
    event.set();
}

void produce(mp::Queue<int>& queue, int first, int count) {
    for (int i = first; i < first + count; ++i) queue.put(i);
}

void consume(mp::Queue<int>& queue, mp::Value<long>& sum, mp::Value<int>& received) {
    for (;;) {
        const int item = queue.get();
        if (item < 0) return;
        sum += item;
        received += 1;
    }
}

template <typename... Args>
int run_processes(int count, void (*target)(Args...), const auto&... args) {
    std::vector<mp::Process> processes;
    for (int i = 0; i < count; ++i) processes.emplace_back(target, args...);
    for (auto& p : processes) p.start();
    int ok = 0;
    for (auto& p : processes) {
        p.join();
        ok += p.exitcode() == 0 ? 1 : 0;
    }
    return ok;
}

TEST(ValueWin32, FourProcessesAddingUnderTheLockLoseNothing) {
    mp::Value<int> total(0);
    ASSERT_EQ(run_processes(4, add_under_lock, total, 500), 4);
    EXPECT_EQ(total.load(), 2000);
}

TEST(ValueWin32, AttachingWithAnotherTypeIsRefused) {
    const mp::Value<int> v(5);
    EXPECT_THROW((void)mp::Value<double>::attach(v.name()), mp::TypeMismatchError);
    EXPECT_EQ(mp::Value<int>::attach(v.name()).load(), 5);
}

TEST(ArrayWin32, ThreeProcessesAddingToEveryElementLoseNothing) {
    mp::Array<long, 8> counts;
    ASSERT_EQ(run_processes(3, add_to_each, counts, 200), 3);
    for (std::ptrdiff_t i = 0; i < 8; ++i) EXPECT_EQ(counts[i], 600) << "element " << i;
}

TEST(LockWin32, AKilledOwnersLockIsRecoveredAndSaysSo) {
    mp::Lock lock;
    mp::Event holding;
    mp::Process owner(hold_until_killed, lock, holding);
    owner.start();
    ASSERT_TRUE(holding.wait(60s));
    owner.kill();
    owner.join();
    EXPECT_LT(*owner.exitcode(), 0);
    ASSERT_TRUE(lock.acquire(10s));
    EXPECT_TRUE(lock.previous_owner_died());
    EXPECT_EQ(lock.recoveries(), 1U);
    lock.release();
    ASSERT_TRUE(lock.acquire(10s));  // and it goes on working
    EXPECT_FALSE(lock.previous_owner_died());
    lock.release();
}

TEST(LockWin32, ATimedAcquireTimesOutWhileAnotherProcessHoldsIt) {
    mp::Lock lock;
    mp::Event holding;
    mp::Event release;
    mp::Process holder(hold_for_a_while, lock, holding, release);
    holder.start();
    ASSERT_TRUE(holding.wait(60s));
    EXPECT_FALSE(lock.acquire(100ms));
    release.set();
    ASSERT_TRUE(lock.acquire(30s));
    EXPECT_FALSE(lock.previous_owner_died());
    lock.release();
    holder.join();
    EXPECT_EQ(holder.exitcode(), 0);
}

TEST(LockWin32, ReacquiringALockIsAnErrorAndAnRLockCounts) {
    mp::Lock lock;
    lock.acquire();
    EXPECT_FALSE(lock.acquire(false));
    EXPECT_THROW(lock.acquire(), mp::Error);
    lock.release();
    mp::RLock rlock;
    rlock.acquire();
    rlock.acquire();
    rlock.release();
    rlock.release();
    EXPECT_TRUE(rlock.acquire(false));
    rlock.release();
}

TEST(EventWin32, AWaiterWakesWhenAnotherProcessSets) {
    mp::Event event;
    mp::Value<int> stamp(0);
    EXPECT_FALSE(event.wait(50ms));
    mp::Process setter(set_after, event, stamp);
    setter.start();
    ASSERT_TRUE(event.wait(60s));
    EXPECT_EQ(stamp.load(), 1);
    setter.join();
}

TEST(QueueWin32, ProducersAndConsumersLoseAndDuplicateNothing) {
    mp::Queue<int> queue(16);
    mp::Value<long> sum(0);
    mp::Value<int> received(0);
    std::vector<mp::Process> consumers;
    for (int i = 0; i < 2; ++i) consumers.emplace_back(consume, queue, sum, received);
    for (auto& c : consumers) c.start();
    ASSERT_EQ(run_processes(1, produce, queue, 0, 300), 1);
    produce(queue, 300, 300);
    for (std::size_t i = 0; i < consumers.size(); ++i) queue.put(-1);
    for (auto& c : consumers) {
        c.join();
        EXPECT_EQ(c.exitcode(), 0);
    }
    EXPECT_EQ(received.load(), 600);
    EXPECT_EQ(sum.load(), 599L * 600 / 2);
}

TEST(QueueWin32, EmptyAndFullAreReported) {
    mp::Queue<int> queue(2);
    EXPECT_THROW((void)queue.get_nowait(), mp::Empty);
    EXPECT_THROW((void)queue.get(20ms), mp::Empty);
    queue.put_nowait(1);
    queue.put_nowait(2);
    EXPECT_THROW(queue.put_nowait(3), mp::Full);
    EXPECT_EQ(queue.get(), 1);
}

}  // namespace
