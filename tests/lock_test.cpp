// Tests for mpshm/lock.hpp: Lock and RLock across real processes,
// including owners killed while holding them.
// SPDX-License-Identifier: MIT
#if !defined(_WIN32)  // SIGKILL, waitpid
#include <signal.h>
#include <sys/wait.h>
#endif

#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#if defined(_WIN32)  // for the children started by spawn below
#include <stdexcept>
#include <string>
#endif

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;
#if !defined(_WIN32)  // POSIX-only helpers: fork(), pipes, SIGKILL
using mpshm_test::exit_code;
using mpshm_test::Pipe;
using mpshm_test::run_in_child;
using mpshm_test::segment_exists;

namespace {

// Starts a child that takes LOCK (DEPTH times), says so, and then waits
// forever holding it; returns its pid once it holds the lock.
template <typename LockType>
::pid_t child_holding(LockType& lock, int depth = 1) {
    Pipe held;
    const ::pid_t pid = mpshm_test::start_child([&] {
        for (int i = 0; i < depth; ++i) lock.acquire();
        held.signal();
        Pipe never;
        never.wait();  // blocks until killed
        return 0;
    });
    EXPECT_TRUE(held.wait());
    return pid;
}

void kill_and_reap(::pid_t pid) {
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), -SIGKILL);
}

}  // namespace
#else
namespace {

// Windows has no fork(): these run in processes started by spawn.
template <typename LockType>
void try_to_take(std::string name, mp::Value<int>& took) {
    auto attached = LockType::attach(name);
    const bool got = attached.acquire(false);
    took.store(got ? 1 : 0);
    if (got) attached.release();
}

void release_anothers(mp::RLock& lock, mp::Value<int>& refused) {
    try {
        lock.release();  // not this process's lock
        refused.store(0);
    } catch (const std::invalid_argument&) {
        refused.store(1);
    }
}

void hold_twice_until_killed(mp::RLock& lock, mp::Event& holding) {
    lock.acquire();
    lock.acquire();
    holding.set();
    for (;;) std::this_thread::sleep_for(1h);
}

// Whether another process, attaching to NAME, can take the lock now.
template <typename LockType>
int taken_by_another_process(const std::string& name) {
    mp::Value<int> took(-1);
    mp::Process other(try_to_take<LockType>, name, took);
    other.start();
    other.join();
    EXPECT_EQ(other.exitcode(), 0);
    return took.load();
}

}  // namespace
#endif

TEST(Lock, AcquireReleaseAndStandardGuards) {
    mp::Lock lock;
    EXPECT_TRUE(lock.acquire());
    EXPECT_FALSE(lock.previous_owner_died());
    lock.release();
    { std::lock_guard guard(lock); }
    {
        std::unique_lock guard(lock, std::try_to_lock);
        EXPECT_TRUE(guard.owns_lock());
    }
    mp::RLock other;
    { std::scoped_lock both(lock, other); }
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

// POSIX only: fork()ed children and SIGKILL (Windows: the variant below, and
// a timed acquire against another process's hold in tests/win32/).
#if !defined(_WIN32)
TEST(Lock, AnotherProcessCannotTakeAHeldLock) {
    mp::Lock lock;
    lock.acquire();
    const int status = run_in_child([name = lock.name()] {
        auto attached = mp::Lock::attach(name);
        return attached.acquire(false) ? 1 : 0;
    });
    EXPECT_EQ(exit_code(status), 0);
    lock.release();
    const int after = run_in_child([name = lock.name()] {
        auto attached = mp::Lock::attach(name);
        if (!attached.acquire(false)) return 1;
        attached.release();
        return 0;
    });
    EXPECT_EQ(exit_code(after), 0);
}

TEST(Lock, TimedAcquireWaitsAboutTheTimeout) {
    mp::Lock lock;
    const ::pid_t holder = child_holding(lock);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(lock.acquire(200ms));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 190ms);
    EXPECT_LT(waited, 5s);
    EXPECT_FALSE(lock.acquire(-1s)) << "a negative timeout tries once";
    kill_and_reap(holder);
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)  // the same with a child started by spawn
TEST(Lock, ASpawnedProcessCannotTakeAHeldLock) {
    mp::Lock lock;
    lock.acquire();
    EXPECT_EQ(taken_by_another_process<mp::Lock>(lock.name()), 0);
    lock.release();
    EXPECT_EQ(taken_by_another_process<mp::Lock>(lock.name()), 1);
}
#endif

TEST(Lock, ReleasingALockNotHeldIsAnError) {
    mp::Lock lock;
    try {
        lock.release();
        FAIL() << "released a lock that was not held";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find(lock.name()), std::string::npos) << e.what();
    }
    mp::RLock rlock;
    EXPECT_THROW(rlock.release(), std::invalid_argument);
}

TEST(RLock, AWrongReleaseFromAnotherProcessChangesNothing) {
    mp::RLock lock;
    lock.acquire();
    lock.acquire();
#if defined(_WIN32)  // no fork(): the other process is started by spawn
    mp::Value<int> refused(-1);
    mp::Process other(release_anothers, lock, refused);
    other.start();
    other.join();
    EXPECT_EQ(other.exitcode(), 0);
    EXPECT_EQ(refused.load(), 1);
#else
    const int status = run_in_child([&] {
        try {
            lock.release();  // not this process's lock
            return 1;
        } catch (const std::invalid_argument&) {
            return 0;
        }
    });
    EXPECT_EQ(exit_code(status), 0);
#endif
    EXPECT_EQ(lock.depth(), 2U);
    lock.release();
    lock.release();
    EXPECT_EQ(lock.depth(), 0U);
    EXPECT_TRUE(lock.acquire(false));
    lock.release();
}

TEST(Lock, ReacquiringFromTheOwnerThrowsInsteadOfDeadlocking) {
    mp::Lock lock;
    lock.acquire();
    EXPECT_THROW(lock.acquire(), mp::Error);
    lock.release();
}

TEST(RLock, OwnerMayReacquireAndMustReleaseAsOften) {
    mp::RLock lock;
    lock.acquire();
    lock.acquire();
    lock.release();
#if defined(_WIN32)  // no fork(): the other process is started by spawn
    EXPECT_EQ(taken_by_another_process<mp::RLock>(lock.name()), 0);
#else
    const int still_held = run_in_child(
        [name = lock.name()] { return mp::RLock::attach(name).acquire(false) ? 1 : 0; });
    EXPECT_EQ(exit_code(still_held), 0);
#endif
    lock.release();
    EXPECT_THROW(lock.release(), std::invalid_argument);
}

// POSIX only: SIGKILL, fork()ed children and zombies (Windows: the variant
// below, a killed owner in tests/win32/, and a waiter woken by an owner
// killed meanwhile in tests/win32/lock_smoke.cpp).
#if !defined(_WIN32)
TEST(Lock, KilledOwnerIsRecoveredAndReported) {
    mp::Lock lock;
    const ::pid_t holder = child_holding(lock);
    kill_and_reap(holder);
    ASSERT_TRUE(lock.acquire(1s));
    EXPECT_TRUE(lock.previous_owner_died());
    EXPECT_EQ(lock.recoveries(), 1U);
    lock.release();
    // The lock is healthy afterwards: no further recovery is reported.
    ASSERT_TRUE(lock.acquire(1s));
    EXPECT_FALSE(lock.previous_owner_died());
    lock.release();
}

TEST(RLock, KilledOwnerHoldingTwiceIsRecovered) {
    mp::RLock lock;
    const ::pid_t holder = child_holding(lock, 2);
    kill_and_reap(holder);
    ASSERT_TRUE(lock.acquire(1s));
    EXPECT_TRUE(lock.previous_owner_died());
    lock.release();
    const int free_again = run_in_child([name = lock.name()] {
        auto attached = mp::RLock::attach(name);
        if (!attached.acquire(false)) return 1;
        attached.release();
        return 0;
    });
    EXPECT_EQ(exit_code(free_again), 0);
}

TEST(Lock, WaiterBlockedOnAKilledOwnerWakesUp) {
    mp::Lock lock;
    const ::pid_t holder = child_holding(lock);
    mp::Lock waiter_handle = lock;  // copies share the lock
    bool got = false;
    bool died = false;
    std::thread waiter([&] {
        got = waiter_handle.acquire(10s);
        died = waiter_handle.previous_owner_died();
        if (got) waiter_handle.release();
    });
    kill_and_reap(holder);
    waiter.join();
    EXPECT_TRUE(got);
    EXPECT_TRUE(died);
    EXPECT_EQ(lock.recoveries(), 1U);
}

// The waiter may be the dead owner's parent, which has not reaped it yet:
// a zombie holds nothing.
TEST(Lock, AKilledOwnerNotYetReapedIsRecovered) {
    mp::Lock lock;
    const ::pid_t holder = child_holding(lock);
    ::kill(holder, SIGKILL);
    const bool got = lock.acquire(10s);
    mpshm_test::wait_child(holder);
    ASSERT_TRUE(got);
    EXPECT_TRUE(lock.previous_owner_died());
    lock.release();
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)  // the same with a child started by spawn, killed
TEST(RLock, AKilledSpawnedOwnerHoldingTwiceIsRecovered) {
    mp::RLock lock;
    mp::Event holding;
    mp::Process holder(hold_twice_until_killed, lock, holding);
    holder.start();
    ASSERT_TRUE(holding.wait(60s));
    holder.kill();
    holder.join();
    EXPECT_LT(*holder.exitcode(), 0);
    ASSERT_TRUE(lock.acquire(10s));
    EXPECT_TRUE(lock.previous_owner_died());
    EXPECT_EQ(lock.depth(), 1U);
    lock.release();
    EXPECT_EQ(taken_by_another_process<mp::RLock>(lock.name()), 1);
}
#endif

TEST(RLock, AThreadThatEndsHoldingTheLockIsRecovered) {
    mp::RLock lock;
    std::thread([copy = lock]() mutable { copy.acquire(); }).join();
    ASSERT_TRUE(lock.acquire(10s));
    EXPECT_TRUE(lock.previous_owner_died());
    EXPECT_EQ(lock.depth(), 1U);
    lock.release();
#if defined(_WIN32)  // no fork(): the other process is started by spawn
    EXPECT_EQ(taken_by_another_process<mp::RLock>(lock.name()), 1);
#else
    const int free_again = run_in_child(
        [name = lock.name()] { return mp::RLock::attach(name).acquire(false) ? 0 : 1; });
    EXPECT_EQ(exit_code(free_again), 0);
#endif
}

TEST(Lock, AttachChecksTheKindOfLock) {
    mp::Lock lock;
    mp::RLock rlock;
    EXPECT_THROW(mp::RLock::attach(lock.name()), mp::TypeMismatchError);
    EXPECT_THROW(mp::Lock::attach(rlock.name()), mp::TypeMismatchError);
    EXPECT_THROW(mp::Lock::attach(mpshm_test::unique_name("nolock")), mp::FileNotFoundError);
    mp::SharedMemory raw({.create = true, .size = 4096});
    EXPECT_THROW(mp::Lock::attach(raw.name()), mp::CorruptSegmentError);
}

// POSIX only: unlink (a Win32 section goes with its last handle), and the
// POSIX lock's owner word (thread ids and start times from /proc).
#if !defined(_WIN32)
TEST(Lock, CreatorRemovesItsSegment) {
    std::string name;
    {
        mp::Lock lock;
        name = lock.name();
        EXPECT_TRUE(segment_exists(name));
    }
    EXPECT_FALSE(segment_exists(name));
}

// A peer that overwrites a lock word while this thread holds the lock once
// made the guard's destructor throw (std::terminate). The guard now lets go
// quietly, and the next use of the handle reports the damage.
TEST(Lock, AGuardWhoseLockWordWasOverwrittenNeverThrowsFromItsDestructor) {
    mp::Lock lock;
    const int code = run_in_child([&] {
        {
            const std::lock_guard guard(lock);
            mp::SharedMemory raw(lock.name());
            std::memset(static_cast<void*>(&mpshm_test::header_of(raw).lock), 0,
                        sizeof(mp::detail::RobustMutex));
        }  // the lock is no longer this thread's: unlock() fails here
        try {
            lock.acquire();
            return 1;
        } catch (const mp::CorruptSegmentError& e) {
            if (!mpshm_test::contains(e.what(), lock.name())) return 2;
        }
        // Reported once: the handle then works again.
        if (!lock.acquire(false)) return 3;
        lock.release();
        return 0;
    });
    EXPECT_EQ(exit_code(code), 0) << "-6 is std::terminate from a destructor";
    // release() itself still refuses a lock not held, as Python's does.
    EXPECT_THROW(lock.release(), std::invalid_argument);
}

// Thread ids are reused: a lock whose owner word names a live thread with
// another start time belongs to a dead owner, and one naming the live
// thread exactly does not.
TEST(RobustMutex, AReusedThreadIdIsNotTakenForTheDeadOwner) {
    using mp::detail::posix::RobustMutex;
    mp::RawValue<std::uint64_t> word(0);
    Pipe ready;
    const ::pid_t live = mpshm_test::start_child([&] {
        word.store(mp::detail::posix::current_owner());
        ready.signal();
        Pipe never;
        never.wait();
        return 0;
    });
    ASSERT_TRUE(ready.wait());
    const std::uint64_t live_owner = word.load();
    ASSERT_EQ(mp::detail::posix::owner_word::tid(live_owner), live);

    // The lock word comes first in RobustMutex: forge who holds it.
    const auto held_by = [](RobustMutex& mutex, std::uint64_t owner) {
        mutex.init(false);
        reinterpret_cast<std::atomic<std::uint64_t>*>(&mutex)->store(owner);
    };
    RobustMutex mutex;
    held_by(mutex, live_owner);
    EXPECT_EQ(mutex.lock_for(50ms), RobustMutex::Acquired::no) << "the owner is alive";
    EXPECT_EQ(mutex.try_lock(), RobustMutex::Acquired::no);

    const std::uint64_t other_start = std::uint64_t{1}
                                      << mp::detail::posix::owner_word::start_shift;
    held_by(mutex, live_owner ^ other_start);
    EXPECT_EQ(mutex.lock_for(10s), RobustMutex::Acquired::previous_owner_died);
    EXPECT_TRUE(mutex.held_by_me());
    EXPECT_TRUE(mutex.unlock());
    mpshm_test::kill_and_reap(live);
}
#endif  // !defined(_WIN32)
