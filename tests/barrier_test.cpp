// Tests for mpshm/barrier.hpp: Barrier across processes, including a party
// killed while it waits.
// SPDX-License-Identifier: MIT
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

// POSIX only: fork()ed parties, some killed with SIGKILL while they wait.
#if !defined(_WIN32)
using mpshm_test::exit_code;

namespace {

// The action runs in whichever process arrives last: it finds its counter by
// name (a fork()ed child inherits this string).
std::string g_action_counter;
void count_action() {
    mp::Value<int>::attach(g_action_counter) += 1;
}

}  // namespace

TEST(Barrier, PartiesMeetTheLastRunsTheActionAndIndicesDiffer) {
    mp::Value<int> actions(0);
    g_action_counter = actions.name();
    mp::Barrier barrier(3, count_action);
    EXPECT_EQ(barrier.parties(), 3U);
    mp::Array<int, 3> seen;
    std::vector<::pid_t> parties;
    for (int i = 0; i < 2; ++i) {
        parties.push_back(mpshm_test::start_child([&] {
            seen[barrier.wait(20s)] += 1;
            return 0;
        }));
    }
    seen[barrier.wait(20s)] += 1;
    for (const auto pid : parties) EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), 0);
    EXPECT_EQ(seen.to_vector(), (std::vector<int>{1, 1, 1}));
    EXPECT_EQ(actions.load(), 1);
    EXPECT_EQ(barrier.n_waiting(), 0U);
    EXPECT_FALSE(barrier.broken());
    // Reusable: a second round.
    const ::pid_t again = mpshm_test::start_child([&] {
        // A handle attached by name names its action: code never travels
        // through the segment.
        auto attached = mp::Barrier::attach(barrier.name(), count_action);
        attached.wait(20s);
        return 0;
    });
    const ::pid_t third = mpshm_test::start_child([&] {
        barrier.wait(20s);
        return 0;
    });
    barrier.wait(20s);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(again)), 0);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(third)), 0);
    EXPECT_EQ(actions.load(), 2);
}

TEST(Barrier, AnActionIsNamedByEveryHandleNeverReadFromTheSegment) {
    mp::Barrier with_action(2, count_action);
    mpshm_test::expect_error<mp::TypeMismatchError>(
        [&] { (void)mp::Barrier::attach(with_action.name()); },
        {with_action.name(), "action", "attach(name, action)"});
    mp::Barrier without(2);
    mpshm_test::expect_error<mp::TypeMismatchError>(
        [&] { (void)mp::Barrier::attach(without.name(), count_action); },
        {without.name(), "no action"});
}

namespace {
std::string g_forged_counter;
void forged_action() {
    mp::Value<int>::attach(g_forged_counter) += 1;
}
}  // namespace

TEST(Barrier, NoFunctionIsEverCalledThroughItsSegment) {
    // A writer of the segment once chose the function every party ran: the
    // action was kept in shared memory as a flag and a code offset.
    mp::Value<int> forged_runs(0);
    g_forged_counter = forged_runs.name();
    mp::Barrier barrier(2);
    mp::SharedMemory raw(barrier.name());
    std::byte* state = mpshm_test::data_of(raw);
    const std::uint32_t has_action = 1;
    const std::int64_t offset = mp::detail::code_offset(&forged_action);
    std::memcpy(state + 12, &has_action, sizeof has_action);  // where they were kept
    std::memcpy(state + 16, &offset, sizeof offset);
    const ::pid_t other = mpshm_test::start_child([&] {
        try {
            barrier.wait(20s);
        } catch (const mp::Error&) {  // damage may be noticed: that is fine
        }
        return 0;
    });
    try {
        barrier.wait(20s);
    } catch (const mp::Error&) {
    }
    EXPECT_EQ(exit_code(mpshm_test::wait_child(other)), 0);
    EXPECT_EQ(forged_runs.load(), 0) << "a function named by the segment was called";
}

TEST(Barrier, EverySlotTakenIsCorruptNotAWalkPastTheEnd) {
    mp::Barrier barrier(2);
    mp::SharedMemory raw(barrier.name());
    std::byte* state = mpshm_test::data_of(raw);
    // No party counted, yet both slots hold a live process: no free slot.
    const std::uint32_t count = 0;
    std::memcpy(state + 4, &count, sizeof count);
    const auto me = static_cast<std::int64_t>(::getpid());
    auto* slots = reinterpret_cast<std::int64_t*>(state + sizeof(mp::detail::BarrierState));
    slots[0] = slots[1] = me;
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { barrier.wait(1s); },
                                                      {barrier.name()});
}

TEST(Barrier, AForgedPhaseNeverHoldsATimedWaitPastItsTimeout) {
    mp::Barrier barrier(2);
    mp::SharedMemory raw(barrier.name());
    std::byte* state = mpshm_test::data_of(raw);
    // "Draining", with one live party still inside: a wait once slept until
    // the drain ended, timeout or not.
    const std::uint32_t count = 1;
    const std::int32_t draining = 1;
    std::memcpy(state + 4, &count, sizeof count);
    std::memcpy(state + 8, &draining, sizeof draining);
    auto* slots = reinterpret_cast<std::int64_t*>(state + sizeof(mp::detail::BarrierState));
    slots[0] = static_cast<std::int64_t>(::getpid());
    const int code = mpshm_test::run_in_child_within(10s, [&] {
        const auto start = std::chrono::steady_clock::now();
        try {
            barrier.wait(200ms);
            return 1;
        } catch (const mp::BrokenBarrierError&) {
        }
        return std::chrono::steady_clock::now() - start < 2s ? 0 : 2;
    });
    EXPECT_EQ(code, 0);
    // A phase no Barrier ever has is damage, said so.
    const std::int32_t nonsense = 7;
    std::memcpy(state + 8, &nonsense, sizeof nonsense);
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { barrier.wait(200ms); },
                                                      {barrier.name(), "phase"});
}

TEST(Barrier, ATimedWaitReturnsInTimeWhileAPeerHoldsItsLock) {
    mp::Barrier barrier(2);
    const ::pid_t holder = mpshm_test::start_child_holding(
        [&] { mp::Lock::attach(barrier.name()).acquire(); });
    const int code = mpshm_test::run_in_child_within(10s, [&] {
        try {
            barrier.wait(100ms);
            return 1;
        } catch (const mp::BrokenBarrierError&) {
            return 0;
        }
    });
    mpshm_test::kill_and_reap(holder);
    EXPECT_EQ(code, 0);
}

TEST(Barrier, APartyKilledWhileWaitingBreaksItInsteadOfHanging) {
    mp::Barrier barrier(3);
    const ::pid_t doomed = mpshm_test::start_child([&] {
        barrier.wait();
        return 0;
    });
    const ::pid_t survivor = mpshm_test::start_child([&] {
        try {
            barrier.wait();
            return 1;
        } catch (const mp::BrokenBarrierError&) {
            return 0;
        }
    });
    ASSERT_TRUE(mpshm_test::eventually([&] { return barrier.n_waiting() == 2; }));
    mpshm_test::kill_and_reap(doomed);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(survivor)), 0) << "the survivor must see it broken";
    EXPECT_TRUE(barrier.broken());
    EXPECT_THROW(barrier.wait(20s), mp::BrokenBarrierError);
    barrier.reset();
    EXPECT_FALSE(barrier.broken());
}

TEST(Barrier, TheLastArrivalDoesNotPassWhenAPartyDiedWaiting) {
    mp::Barrier barrier(2);
    const ::pid_t doomed = mpshm_test::start_child([&] {
        barrier.wait();
        return 0;
    });
    ASSERT_TRUE(mpshm_test::eventually([&] { return barrier.n_waiting() == 1; }));
    mpshm_test::kill_and_reap(doomed);
    EXPECT_THROW(barrier.wait(20s), mp::BrokenBarrierError);
    EXPECT_TRUE(barrier.broken());
}
#endif  // !defined(_WIN32)

TEST(Barrier, ATimeoutBreaksItNearTheDeadline) {
    mp::Barrier barrier(2);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(barrier.wait(200ms), mp::BrokenBarrierError);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
    EXPECT_TRUE(barrier.broken());
    mp::Barrier with_default(2, nullptr, 100ms);
    EXPECT_THROW(with_default.wait(), mp::BrokenBarrierError);
}

// POSIX only: a fork()ed waiter.
#if !defined(_WIN32)
TEST(Barrier, AbortAndResetReleaseWaitersWithBrokenBarrierError) {
    for (const bool abort : {true, false}) {
        mp::Barrier barrier(2);
        const ::pid_t waiter = mpshm_test::start_child([&] {
            try {
                barrier.wait(20s);
                return 1;
            } catch (const mp::BrokenBarrierError&) {
                return 0;
            }
        });
        ASSERT_TRUE(mpshm_test::eventually([&] { return barrier.n_waiting() == 1; }));
        if (abort) {
            barrier.abort();
        } else {
            barrier.reset();
        }
        EXPECT_EQ(exit_code(mpshm_test::wait_child(waiter)), 0) << (abort ? "abort" : "reset");
        EXPECT_EQ(barrier.broken(), abort);
    }
}
#endif  // !defined(_WIN32)

TEST(Barrier, ZeroPartiesIsRefused) {
    EXPECT_THROW(mp::Barrier(0), std::invalid_argument);
}
