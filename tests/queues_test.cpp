// Tests for mpshm/queues.hpp: Queue, SimpleQueue and JoinableQueue between
// real processes, including processes killed in the middle.
// SPDX-License-Identifier: MIT
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

namespace {

// POSIX only: the helpers of the fork()ed producers and consumers below.
#if !defined(_WIN32)
struct Message {
    std::int32_t producer;  // -1: stop
    std::int32_t sequence;
};

constexpr int producers = 4;
constexpr int consumers = 4;
constexpr int messages_each = 100'000;

// Records, per producer, how many messages a consumer saw and their sum, and
// fails if one producer's messages arrive out of order.
int consume(mp::Queue<Message>& queue, mp::Array<std::int64_t, 2 * producers>& totals) {
    std::vector<std::int64_t> count(producers, 0), sum(producers, 0);
    std::vector<std::int32_t> last(producers, -1);
    for (;;) {
        const Message m = queue.get();
        if (m.producer < 0) break;
        if (m.producer >= producers || m.sequence <= last[m.producer]) return 1;
        last[m.producer] = m.sequence;
        count[m.producer] += 1;
        sum[m.producer] += m.sequence;
    }
    for (std::ptrdiff_t p = 0; p < producers; ++p) {
        totals[p] += count[p];
        totals[producers + p] += sum[p];
    }
    return 0;
}
#endif  // !defined(_WIN32)

void consume_one(mp::Queue<std::string>& queue, mp::Value<int>& got) {
    got.store(static_cast<int>(queue.get().size()));
}

}  // namespace

TEST(Queue, FirstInFirstOutWithSizesAndNowaitErrors) {
    mp::Queue<int> q(3);
    EXPECT_TRUE(q.empty());
    q.put(1);
    q.put(2);
    q.put_nowait(3);
    EXPECT_TRUE(q.full());
    EXPECT_EQ(q.qsize(), 3U);
    EXPECT_THROW(q.put_nowait(4), mp::Full);
    EXPECT_THROW(q.put(4, false), mp::Full);
    EXPECT_EQ(q.get(), 1);
    EXPECT_EQ(q.get_nowait(), 2);
    EXPECT_EQ(q.get(false), 3);
    EXPECT_THROW(q.get_nowait(), mp::Empty);
    EXPECT_EQ(q.qsize(), 0U);
}

TEST(Queue, TimedPutAndGetFailNearTheDeadline) {
    mp::Queue<double> q(1);
    auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(q.get(200ms), mp::Empty);
    auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
    q.put(1.5);
    start = std::chrono::steady_clock::now();
    EXPECT_THROW(q.put(2.5, 200ms), mp::Full);
    waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 200ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(q.get(1s), 1.5);
}

TEST(Queue, StringsOfEverySizeWrapAroundTheRing) {
    mp::Queue<std::string> q({.capacity = 64});
    std::deque<std::string> expected;
    int drains = 0;
    for (int round = 0; round < 300; ++round) {
        const std::string s(static_cast<std::size_t>(round % 40),
                            static_cast<char>('a' + round % 26));
        try {
            q.put_nowait(s);
        } catch (const mp::Full&) {  // the ring is full: empty it, in order
            ++drains;
            while (!expected.empty()) {
                ASSERT_EQ(q.get_nowait(), expected.front());
                expected.pop_front();
            }
            q.put_nowait(s);
        }
        expected.push_back(s);
    }
    while (!expected.empty()) {
        ASSERT_EQ(q.get_nowait(), expected.front());
        expected.pop_front();
    }
    EXPECT_TRUE(q.empty());
    EXPECT_GT(drains, 50) << "the ring should have filled and wrapped many times";
}

TEST(Queue, AMessageLargerThanTheRingIsRefusedNotTruncated) {
    mp::Queue<std::string> q({.capacity = 32});
    q.put("small");
    try {
        q.put(std::string(100, 'x'));
        FAIL() << "a 100-byte message went into a 32-byte ring";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("larger than the queue's ring"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(q.qsize(), 1U);
    EXPECT_EQ(q.get(), "small");
}

// POSIX only: fork()ed producers and consumers, some killed with SIGKILL.
#if !defined(_WIN32)
using mpshm_test::exit_code;

TEST(Queue, FourProducersAndFourConsumersLoseAndDuplicateNothing) {
    mp::Queue<Message> queue(1024);
    mp::Array<std::int64_t, 2 * producers> totals;
    std::vector<::pid_t> children;
    for (int c = 0; c < consumers; ++c) {
        children.push_back(mpshm_test::start_child([&] { return consume(queue, totals); }));
    }
    std::vector<::pid_t> makers;
    for (int p = 0; p < producers; ++p) {
        makers.push_back(mpshm_test::start_child([&, p] {
            for (int i = 0; i < messages_each; ++i) queue.put(Message{p, i});
            return 0;
        }));
    }
    for (const auto pid : makers) EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), 0);
    for (int c = 0; c < consumers; ++c) queue.put(Message{-1, 0});
    for (const auto pid : children) EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), 0);
    const std::int64_t expected_sum = std::int64_t{messages_each} * (messages_each - 1) / 2;
    for (std::ptrdiff_t p = 0; p < producers; ++p) {
        EXPECT_EQ(totals[p], messages_each) << "count of producer " << p;
        EXPECT_EQ(totals[producers + p], expected_sum) << "sum of producer " << p;
    }
    EXPECT_TRUE(queue.empty());
}

TEST(Queue, AConsumerKilledWhileWaitingLosesNoMessage) {
    mp::Queue<int> q;
    const ::pid_t doomed = mpshm_test::start_child([&] {
        q.get();
        return 0;
    });
    EXPECT_THROW(q.get(50ms), mp::Empty);  // the doomed consumer waits too
    mpshm_test::kill_and_reap(doomed);
    q.put(7);
    const int status = mpshm_test::run_in_child([&] { return q.get(1s) == 7 ? 0 : 1; });
    EXPECT_EQ(exit_code(status), 0);
    EXPECT_TRUE(q.empty());
}

TEST(Queue, AProcessKilledInsideAnOperationIsRepairedAfter) {
    mp::Queue<int> q;
    q.put(1);
    q.put(2);
    // A put() killed after publishing its record but before counting it:
    // the child takes the internal lock, leaves the count wrong, and dies.
    const ::pid_t broken = mpshm_test::start_child_holding([&] {
        mp::Lock::attach(q.name()).acquire();
        mp::SharedMemory raw(q.name());
        auto* header = reinterpret_cast<mp::detail::SegmentHeader*>(raw.buf().data());
        auto* state =
            reinterpret_cast<mp::detail::QueueState*>(raw.buf().data() + header->data_offset);
        state->items = 99;
    });
    mpshm_test::kill_and_reap(broken);
    EXPECT_EQ(q.qsize(), 2U) << "the first use after the death recounts";
    EXPECT_EQ(q.get(1s), 1);
    EXPECT_EQ(q.qsize(), 1U);
    EXPECT_EQ(q.get(1s), 2);
    EXPECT_TRUE(q.empty());
}
#endif  // !defined(_WIN32)

// The state of the queue mapped by RAW, as another process (or damage) may change it.
static mp::detail::QueueState& state_of(mp::SharedMemory& raw) {
    const auto* header = reinterpret_cast<const mp::detail::SegmentHeader*>(raw.buf().data());
    return *reinterpret_cast<mp::detail::QueueState*>(raw.buf().data() + header->data_offset);
}

TEST(Queue, DamagedPositionsAreCorruptNotReadPastTheRing) {
    // Found by fuzzing (tests/fuzz): positions no put or get leaves made
    // get() read a record's length past a one-byte ring, and the segment's
    // end, and could have made a recount run for ever.
    mp::Queue<int> q(mp::QueueOptions{.capacity = 1});
    mp::SharedMemory raw(q.name());
    auto& state = state_of(raw);
    state.write_pos = 1;  // one byte of a record whose length alone takes four
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { (void)q.get_nowait(); },
                                                      {q.name(), "damaged record"});
    state.write_pos = 2;  // more than the ring holds
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { (void)q.get_nowait(); },
                                                      {q.name(), "positions (0, 2)", "1 bytes"});
    EXPECT_THROW((void)q.qsize(), mp::CorruptSegmentError);
    state.write_pos = 0;
    state.read_pos = 8;  // read past write
    EXPECT_THROW((void)q.full(), mp::CorruptSegmentError);
    state.read_pos = 0;
    EXPECT_EQ(q.qsize(), 0U);
    EXPECT_THROW((void)q.get_nowait(), mp::Empty);
}

TEST(Queue, ARecordLongerThanTheQueueHoldsIsCorrupt) {
    // Found by fuzzing (tests/fuzz): a length that fits the ring but not the
    // bytes between the positions was read as a message, and moved the read
    // position past the write position.
    mp::Queue<std::string> q(mp::QueueOptions{.capacity = 64});
    q.put("abc");
    mp::SharedMemory raw(q.name());
    auto& state = state_of(raw);
    const std::uint32_t length = 60;  // 7 bytes are used: 4 of length, 3 of "abc"
    std::memcpy(reinterpret_cast<std::byte*>(&state) + sizeof state, &length, sizeof length);
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { (void)q.get_nowait(); },
                                                      {q.name(), "damaged record"});
    // The recount after a lock holder's death refuses it too.
    auto* header = reinterpret_cast<mp::detail::SegmentHeader*>(raw.buf().data());
    ++header->recoveries;
    mpshm_test::expect_error<mp::CorruptSegmentError>([&] { (void)q.qsize(); },
                                                      {q.name(), "records are damaged"});
    EXPECT_EQ(state.read_pos, 0U);
}

// POSIX only: fork()ed children, one of them watched by a deadline.
#if !defined(_WIN32)
TEST(Queue, ARaisedCapacityNeverMovesWritesPastTheRing) {
    // The ring's size was read from the segment at every copy: a peer that
    // raised it made put() write past the mapping.
    mp::Queue<std::int64_t> q(mp::QueueOptions{.capacity = 64});
    const int code = mpshm_test::run_in_child_within(20s, [&] {
        auto attached = mp::Queue<std::int64_t>::attach(q.name());
        mp::SharedMemory raw(q.name());
        auto& state = state_of(raw);
        state.capacity = std::uint64_t{1} << 40U;
        state.read_pos = state.write_pos = std::uint64_t{1} << 30U;  // "inside" the forged ring
        try {
            attached.put(7);
            return attached.get_nowait() == 7 ? 0 : 1;
        } catch (const mp::CorruptSegmentError&) {
            return 0;
        }
    });
    EXPECT_EQ(code, 0) << "a signal here is a write past the segment";
}

TEST(Queue, TimedCallsReturnInTimeWhileAPeerHoldsItsLock) {
    mp::Queue<int> q(mp::QueueOptions{.maxsize = 1});
    const ::pid_t holder =
        mpshm_test::start_child_holding([&] { mp::Lock::attach(q.name()).acquire(); });
    const int code = mpshm_test::run_in_child_within(20s, [&] {
        const auto start = std::chrono::steady_clock::now();
        int failures = 0;
        try {
            (void)q.get(100ms);
            ++failures;
        } catch (const mp::Empty&) {
        }
        try {
            q.put(1, 100ms);
            ++failures;
        } catch (const mp::Full&) {
        }
        try {
            (void)q.get_nowait();
            ++failures;
        } catch (const mp::Empty&) {
        }
        try {
            q.put_nowait(1);
            ++failures;
        } catch (const mp::Full&) {
        }
        if (failures != 0) return 1;
        return std::chrono::steady_clock::now() - start < 3s ? 0 : 2;
    });
    mpshm_test::kill_and_reap(holder);
    EXPECT_EQ(code, 0);
}
#endif  // !defined(_WIN32)

TEST(Queue, AttachRefusesStateMovedOffItsAlignment) {
    // Found by fuzzing (tests/fuzz): a consistent header whose data starts
    // one byte later than every creator puts it left the queue's state, its
    // atomics and futexes misaligned (UBSan).
    mp::Queue<int> q;
    mp::SharedMemory raw(q.name());
    auto* header = reinterpret_cast<mp::detail::SegmentHeader*>(raw.buf().data());
    header->data_offset += 1;
    header->data_bytes -= 1;
    header->count -= 1;
    header->checksum = header->compute_checksum();
    mpshm_test::expect_error<mp::CorruptSegmentError>(
        [&] { (void)mp::Queue<int>::attach(q.name()); }, {q.name(), "data offset"});
}

TEST(Queue, ClosedQueuesRefusePutsAndTypesAreChecked) {
    mp::Queue<int> q;
    q.put(1);
    q.close();
    EXPECT_THROW(q.put(2), std::invalid_argument);
    EXPECT_EQ(q.get(), 1);
    EXPECT_THROW(mp::Queue<double>::attach(q.name()), mp::TypeMismatchError);
    EXPECT_THROW(mp::Queue<std::string>::attach(q.name()), mp::TypeMismatchError);
    auto same = mp::Queue<int>::attach(q.name());
    same.put(3);
    EXPECT_EQ(q.get(), 3);
}

TEST(Queue, TravelsToASpawnedChildByName) {
    mp::Queue<std::string> q;
    mp::Value<int> got(0);
    q.put("twelve chars");
    mp::Process p({.start_method = mp::StartMethod::spawn}, consume_one, q, got);
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(got.load(), 12);
}

// POSIX only: a fork()ed worker.
#if !defined(_WIN32)
TEST(JoinableQueue, JoinWaitsUntilEveryTaskIsDone) {
    mp::JoinableQueue<int> q;
    mp::Value<int> sum(0);
    for (int i = 1; i <= 10; ++i) q.put(i);
    const ::pid_t worker = mpshm_test::start_child([&] {
        for (int i = 0; i < 10; ++i) {
            sum += q.get();
            q.task_done();
        }
        return 0;
    });
    q.join();
    EXPECT_EQ(sum.load(), 55) << "join() returned before every task was done";
    EXPECT_EQ(exit_code(mpshm_test::wait_child(worker)), 0);
    EXPECT_THROW(q.task_done(), std::invalid_argument);
}
#endif  // !defined(_WIN32)

TEST(SimpleQueue, IsTheSameRing) {
    mp::SimpleQueue<int> q;
    EXPECT_TRUE(q.empty());
    q.put(5);
    EXPECT_FALSE(q.empty());
    EXPECT_EQ(q.get(), 5);
}
