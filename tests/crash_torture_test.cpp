// Crash torture: worker processes update a Value, an Array and a Manager
// list under their locks, and put items into and get them from a Queue,
// while a chaos loop SIGKILLs them (most of the time inside a critical
// section) and starts replacements. At the end every lock must still be
// usable, every shared total must equal what the workers committed, and the
// Queue must hold exactly the items committed as put and not yet committed
// as got, in order, none lost, none duplicated, none torn.
//
// How a worker commits: under the object's lock it changes the data, then
// adds one to its own commit counter. A worker killed between the two
// leaves the data one ahead; whoever next takes the lock is told
// (previous_owner_died) and rolls the data back to the committed total.
//
// The Queue keeps its own lock inside put() and get(), so the workers take
// a robust lock around each operation, a journal's: see QueueJournal.
//
// A second chaos runs workers through a Semaphore, a Condition (guarding a
// committed counter), an Event and a Barrier: none may wedge or be damaged.
//
// MPSHM_TORTURE_SECONDS sets how long the chaos runs (default 3; longer for
// manual runs).
// SPDX-License-Identifier: MIT
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;

namespace {

constexpr int workers = 4;
constexpr int max_slots = 1 << 16;  // one per worker ever started
constexpr std::size_t elements = 4;

// Item number N of the queue: its number, then a filler whose length and
// letters follow from N, so a torn, truncated or misplaced item is seen.
std::string queue_item(std::int64_t n) {
    std::string item = std::to_string(n) + ':';
    const auto length = static_cast<std::size_t>((n * 7) % 41);
    for (std::size_t i = 0; i < length; ++i) {
        item += static_cast<char>('a' + static_cast<char>((static_cast<std::size_t>(n) + i) % 26));
    }
    return item;
}

// A store that neither the compiler nor a SIGKILL can reorder with the
// stores before it: a journal's entries are read by whoever finds their
// writer dead, at whatever instruction it died.
void publish(std::int64_t& slot, std::int64_t value) {
    std::atomic_ref<std::int64_t>(slot).store(value, std::memory_order_release);
}

// What the workers know about the Queue, in an Array whose robust lock
// every worker holds around each put() or get().
//
// Items are numbered 0, 1, 2, ... in the order they are put; the queue is
// first in, first out and used only under this lock, so it always holds
// items got..put-1, in order, where PUT and GOT count the committed puts and
// gets. Before an operation a worker writes its journal entry (one store:
// which operation, on which item number); after it, the commit (one store:
// PUT or GOT one up), then clears the entry. Whoever takes the lock and
// finds an entry left by a dead worker settles it by the queue's size: a
// Queue promises that an operation killed half-way either happened whole
// (the item is in, or out) or not at all, so qsize() is one of two numbers,
// and which one says whether to roll the commit forward or leave it undone.
// Anything else (another size, a wrong item, an entry left by a living
// owner) is counted as a failure.
// A Queue that shows the JoinableQueue count every put() keeps: the workers
// never call task_done(), so it must end equal to the puts committed, even
// with putters killed between publishing a record and counting it.
struct CountedQueue : mp::Queue<std::string> {
    using mp::Queue<std::string>::Queue;
    [[nodiscard]] std::uint64_t unfinished() {
        (void)qsize();  // takes the lock: repairs what a killed putter left
        return state().unfinished;
    }
};

struct QueueJournal {
    enum Field : std::size_t {
        entry,          // 0, or item * 4 + operation
        put,            // items committed as put
        got,            // items committed as got
        failures,       // broken promises found
        first_failure,  // the first one's code (see fail), and the item it was about
        failure_item,
        puts_completed,  // entries settled: a put that had happened,
        puts_undone,     // ... one that had not,
        gets_completed,  // a get that had happened (its getter took the item along),
        gets_undone,     // ... one that had not
        fields
    };
    enum Operation : std::int64_t { none = 0, putting = 1, getting = 2 };

    mp::Array<std::int64_t> journal = mp::Array<std::int64_t>(fields);
    CountedQueue queue{mp::QueueOptions{.capacity = 512}};  // small: it wraps often

    using Guard = decltype(journal.lock());

    static void fail(const Guard& g, std::int64_t code, std::int64_t item) {
        if (g[failures] == 0) {
            g[first_failure] = code;
            g[failure_item] = item;
        }
        g[failures] += 1;
    }

    // Settles an entry a dead worker left; runs under the lock.
    void settle(const Guard& g, bool previous_owner_died) {
        const std::int64_t e = g[entry];
        if (e == none) return;
        if (!previous_owner_died) fail(g, 1, e / 4);  // an entry, but its writer lives?
        const std::int64_t item = e / 4;
        const std::int64_t in_queue = g[put] - g[got];
        const auto size = static_cast<std::int64_t>(queue.qsize());
        const Field count = e % 4 == putting ? put : got;
        if (g[count] == item + 1) {
            // Committed already; only the entry was left.
        } else if (g[count] != item) {
            fail(g, 2, item);
        } else if (size == in_queue) {
            g[e % 4 == putting ? puts_undone : gets_undone] += 1;
        } else if (size == in_queue + (e % 4 == putting ? 1 : -1)) {
            publish(g.span()[count], item + 1);
            g[e % 4 == putting ? puts_completed : gets_completed] += 1;
        } else {
            fail(g, 3, item);
        }
        publish(g.span()[entry], none);
    }

    // Settles, checks the queue's size, then (with a slot) puts or gets one
    // item. Returns whether it committed one.
    bool step(int slot, bool putting_now) {
        const Guard g = journal.lock();
        try {
            settle(g, journal.get_lock().previous_owner_died());
            if (static_cast<std::int64_t>(queue.qsize()) != g[put] - g[got]) fail(g, 4, g[got]);
            if (slot < 0) return false;
            if (putting_now) {
                const std::int64_t item = g[put];
                const std::string text = queue_item(item);
                publish(g.span()[entry], item * 4 + putting);
                try {
                    queue.put_nowait(text);
                } catch (const mp::Full&) {
                    publish(g.span()[entry], none);
                    return false;
                }
                publish(g.span()[put], item + 1);
            } else {
                const std::int64_t item = g[got];
                publish(g.span()[entry], item * 4 + getting);
                std::string text;
                try {
                    text = queue.get_nowait();
                } catch (const mp::Empty&) {
                    publish(g.span()[entry], none);
                    return false;
                }
                if (text != queue_item(item)) fail(g, 5, item);
                publish(g.span()[got], item + 1);
            }
            publish(g.span()[entry], none);
            return true;
        } catch (const mp::Error&) {
            fail(g, 6, -1);  // a damaged queue, for one
            return false;
        }
    }

    // The queue's contents, taken out under the lock: must be exactly
    // items got..put-1.
    [[nodiscard]] std::vector<std::string> drain() {
        const Guard g = journal.lock();
        std::vector<std::string> items;
        for (;;) {
            try {
                items.push_back(queue.get_nowait());
            } catch (const mp::Empty&) {
                return items;
            }
        }
    }
};

// What the workers share. Commit counters: one per object and worker slot,
// written only under that object's lock.
struct Shared {
    mp::Value<std::int64_t> value{0};
    mp::Array<std::int64_t> array = mp::Array<std::int64_t>(elements);
    mp::Manager manager{{.capacity = 1 << 20}};
    mp::List<std::int64_t> list = manager.list<std::int64_t>({0});
    mp::RawArray<std::int64_t> value_commits = mp::RawArray<std::int64_t>(max_slots);
    mp::RawArray<std::int64_t> array_commits = mp::RawArray<std::int64_t>(max_slots);
    mp::RawArray<std::int64_t> list_commits = mp::RawArray<std::int64_t>(max_slots);
    QueueJournal queue;
    mp::RawArray<std::int64_t> queue_commits = mp::RawArray<std::int64_t>(max_slots);

    static std::int64_t sum(const mp::RawArray<std::int64_t>& commits) {
        std::int64_t total = 0;
        for (const std::int64_t c : commits.to_vector()) total += c;
        return total;
    }

    // One round of updates by the worker in SLOT; also what the checker
    // runs (with no slot) to repair and read the totals.
    void value_step(int slot) {
        auto g = value.lock();
        if (value.get_lock().previous_owner_died()) *g = sum(value_commits);
        if (slot < 0) return;
        *g += 1;
        value_commits[slot] = value_commits[slot] + 1;
    }
    void array_step(int slot) {
        auto g = array.lock();
        if (array.get_lock().previous_owner_died()) {
            const std::int64_t committed = sum(array_commits);
            for (auto& x : g) x = committed;
        }
        if (slot < 0) return;
        for (auto& x : g) x += 1;  // several writes: a kill can land between any two
        array_commits[slot] = array_commits[slot] + 1;
    }
    void list_step(int slot) {
        auto hold = manager.lock();
        if (hold.mutex()->previous_owner_died()) list[0] = sum(list_commits);
        if (slot < 0) return;
        list[0] += 1;
        if (slot % 2 == 0) list.append(slot);  // allocations too, killed half done
        if (list.size() > 16) (void)list.pop();
        list_commits[slot] = list_commits[slot] + 1;
    }
    // Puts and gets by turns; the count per slot only shows progress (the
    // journal is what is checked).
    void queue_step(int slot, bool putting) {
        if (queue.step(slot, putting)) queue_commits[slot] = queue_commits[slot] + 1;
    }
};

int torture_seconds() {
    const char* s = std::getenv("MPSHM_TORTURE_SECONDS");
    return s != nullptr ? std::max(1, std::atoi(s)) : 3;
}

}  // namespace

TEST(CrashTorture, KilledWorkersNeverWedgeTheOthersOrLoseACommit) {
    Shared shared;
    const auto start_worker = [&](int slot) {
        return mpshm_test::start_child([&shared, slot] {
            for (bool putting = slot % 2 == 0;; putting = !putting) {
                shared.value_step(slot);
                shared.array_step(slot);
                shared.list_step(slot);
                shared.queue_step(slot, putting);
            }
            return 0;
        });
    };
    const auto commits_of = [&](int slot) {
        return shared.value_commits[slot] + shared.array_commits[slot] + shared.list_commits[slot] +
               shared.queue_commits[slot];
    };

    std::vector<::pid_t> pids;
    std::vector<int> slots;
    int next_slot = 0;
    for (int w = 0; w < workers; ++w) {
        slots.push_back(next_slot);
        pids.push_back(start_worker(next_slot++));
    }
    std::mt19937 random(12345);
    int kills = 0;
    const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(torture_seconds());
    while (std::chrono::steady_clock::now() < stop && next_slot < max_slots) {
        const auto victim = static_cast<std::size_t>(random() % workers);
        // Let the victim commit a few steps first: proof that the others
        // keep working after every kill so far.
        const std::int64_t before = commits_of(slots[victim]);
        const std::int64_t steps = 1 + static_cast<std::int64_t>(random() % 20);
        ASSERT_TRUE(mpshm_test::eventually([&] {
            return commits_of(slots[victim]) >= before + steps;
        })) << "worker in slot "
            << slots[victim] << " made no progress after " << kills << " kills: a lock is wedged";
        mpshm_test::kill_and_reap(pids[victim]);
        ++kills;
        slots[victim] = next_slot;
        pids[victim] = start_worker(next_slot++);
    }
    for (const ::pid_t pid : pids) mpshm_test::kill_and_reap(pid);
    kills += workers;

    // Every lock is usable (a wedged one would hang here, until ctest's
    // timeout) and every total equals what was committed.
    shared.value_step(-1);
    shared.array_step(-1);
    shared.list_step(-1);
    shared.queue_step(-1, false);
    EXPECT_EQ(shared.value.load(), Shared::sum(shared.value_commits));
    EXPECT_EQ(shared.array.to_vector(),
              std::vector<std::int64_t>(elements, Shared::sum(shared.array_commits)));
    EXPECT_EQ(shared.list.get(0), Shared::sum(shared.list_commits));
    EXPECT_GT(Shared::sum(shared.value_commits), 0);

    // The queue holds exactly the items put and not got, in order, and no
    // worker ever found a promise broken.
    using J = QueueJournal;
    const auto journal = shared.queue.journal.to_vector();
    EXPECT_EQ(journal[J::failures], 0)
        << "first failure: code " << journal[J::first_failure] << " about item "
        << journal[J::failure_item] << " (see QueueJournal::settle and step)";
    std::vector<std::string> expected;
    for (std::int64_t n = journal[J::got]; n < journal[J::put]; ++n)
        expected.push_back(queue_item(n));
    EXPECT_EQ(shared.queue.drain(), expected);
    EXPECT_EQ(shared.queue.queue.unfinished(), static_cast<std::uint64_t>(journal[J::put]));
    EXPECT_GT(journal[J::put], 0);
    EXPECT_GT(journal[J::got], 0);
    // About 40 kills land inside a queue operation in 3 s here.
    EXPECT_GT(journal[J::puts_completed] + journal[J::puts_undone] + journal[J::gets_completed] +
                  journal[J::gets_undone],
              0)
        << "no kill landed inside a queue operation";
    std::printf(
        "crash torture: queue: %lld items put, %lld got; workers killed inside put: %lld had put, "
        "%lld had not; inside get: %lld had got, %lld had not\n",
        static_cast<long long>(journal[J::put]), static_cast<long long>(journal[J::got]),
        static_cast<long long>(journal[J::puts_completed]),
        static_cast<long long>(journal[J::puts_undone]),
        static_cast<long long>(journal[J::gets_completed]),
        static_cast<long long>(journal[J::gets_undone]));

    // Kills inside a critical section are what the locks recovered from.
    const std::uint32_t inside = shared.value.get_lock().recoveries() +
                                 shared.array.get_lock().recoveries() +
                                 shared.queue.journal.get_lock().recoveries() +
                                 mp::RLock::attach(shared.manager.name()).recoveries();
    std::printf("crash torture: %d kills, %u of them inside a critical section\n", kills, inside);
    RecordProperty("kills", kills);
    RecordProperty("kills_inside_a_lock", static_cast<int>(inside));
    // With four workers on three locks most are asleep waiting at any
    // moment, so about a third of the kills land inside (596 kills, 162
    // inside, in 3 s here).
    EXPECT_GE(kills, 40) << "too few kills to prove anything";
    EXPECT_GE(static_cast<int>(inside), std::max(20, kills / 6))
        << "too few kills landed inside a critical section for the test to prove much";
}

namespace {

// The synchronisation primitives under the same chaos: what a worker does
// in one round, and what it commits.
struct Primitives {
    static constexpr int units = 2;
    mp::BoundedSemaphore semaphore{units};
    mp::Condition<> condition;
    mp::RawValue<std::int64_t> counter{0};  // guarded by the condition's lock
    mp::RawArray<std::int64_t> counter_commits = mp::RawArray<std::int64_t>(max_slots);
    mp::Event event;
    mp::Barrier barrier{workers};
    mp::RawArray<std::int64_t> rounds = mp::RawArray<std::int64_t>(max_slots);
    mp::RawValue<std::int64_t> damage{0};  // CorruptSegmentError seen: must stay 0
    mp::RawValue<std::int64_t> barrier_passes{0};  // waits that all parties met

    void round(int slot) {
        try {
            if (semaphore.acquire(std::chrono::seconds(1))) semaphore.release();
            {
                const std::unique_lock hold(condition);
                if (condition.get_lock().previous_owner_died())
                    counter.store(Shared::sum(counter_commits));
                const std::int64_t seen = counter.load() + 1;
                counter.store(seen);
                counter_commits[slot] = counter_commits[slot] + 1;
                condition.notify_all();
                (void)condition.wait_for([&] { return counter.load() != seen; },
                                         std::chrono::milliseconds(1));
            }
            event.set();
            (void)event.wait(std::chrono::milliseconds(1));
            event.clear();
            try {
                (void)barrier.wait(std::chrono::milliseconds(20));
                barrier_passes += 1;
            } catch (const mp::BrokenBarrierError&) {
                if (barrier.broken()) barrier.reset();
            }
        } catch (const mp::CorruptSegmentError&) {
            damage += 1;
        }
        rounds[slot] = rounds[slot] + 1;
    }
};

}  // namespace

TEST(CrashTorture, KilledWorkersNeverWedgeOrDamageTheSynchronisationPrimitives) {
    Primitives shared;
    const auto start_worker = [&](int slot) {
        return mpshm_test::start_child([&shared, slot] {
            for (;;) shared.round(slot);
            return 0;
        });
    };
    std::vector<::pid_t> pids;
    std::vector<int> slots;
    int next_slot = 0;
    for (int w = 0; w < workers; ++w) {
        slots.push_back(next_slot);
        pids.push_back(start_worker(next_slot++));
    }
    std::mt19937 random(54321);
    int kills = 0;
    const auto stop = std::chrono::steady_clock::now() + std::chrono::seconds(torture_seconds());
    while (std::chrono::steady_clock::now() < stop && next_slot < max_slots) {
        const auto victim = static_cast<std::size_t>(random() % workers);
        const std::int64_t before = shared.rounds[slots[victim]];
        const std::int64_t steps = 1 + static_cast<std::int64_t>(random() % 5);
        ASSERT_TRUE(mpshm_test::eventually([&] {
            return shared.rounds[slots[victim]] >= before + steps;
        })) << "worker in slot " << slots[victim] << " made no progress after " << kills
            << " kills: a primitive is wedged";
        mpshm_test::kill_and_reap(pids[victim]);
        ++kills;
        slots[victim] = next_slot;
        pids[victim] = start_worker(next_slot++);
    }
    for (const ::pid_t pid : pids) mpshm_test::kill_and_reap(pid);
    kills += workers;

    EXPECT_EQ(shared.damage.load(), 0) << "a primitive was left damaged by a kill";
    // Each is usable, and holds what was committed.
    {
        const std::unique_lock hold(shared.condition);
        if (shared.condition.get_lock().previous_owner_died())
            shared.counter.store(Shared::sum(shared.counter_commits));
        EXPECT_EQ(shared.counter.load(), Shared::sum(shared.counter_commits));
    }
    // A worker killed holding a unit takes it along, as in Python; never more
    // than one each, and never more than there were.
    const int value = shared.semaphore.get_value();
    EXPECT_LE(value, Primitives::units);
    EXPECT_GE(value, 0);
    while (shared.semaphore.get_value() < Primitives::units) shared.semaphore.release();
    EXPECT_THROW(shared.semaphore.release(), std::invalid_argument);
    shared.event.set();
    EXPECT_TRUE(shared.event.wait(std::chrono::seconds(1)));
    // The parties killed while waiting are forgotten: a full set of new ones
    // meets at the barrier.
    shared.barrier.reset();
    EXPECT_FALSE(shared.barrier.broken());
    EXPECT_EQ(mpshm_test::run_in_children(workers,
                                          [&](int) {
                                              (void)shared.barrier.wait(std::chrono::seconds(20));
                                              return 0;
                                          }),
              workers)
        << "the barrier no longer lets a full set of parties through";
    EXPECT_GT(shared.barrier_passes.load(), 0) << "no party ever passed the barrier";
    std::printf("crash torture: primitives: %d kills, %lld rounds, condition %u recoveries\n",
                kills, static_cast<long long>(Shared::sum(shared.rounds)),
                shared.condition.get_lock().recoveries());
    EXPECT_GE(kills, 40) << "too few kills to prove anything";
}
