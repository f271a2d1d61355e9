// Tests for mpshm/value.hpp: Python's Value and RawValue, across processes.
// SPDX-License-Identifier: MIT
#if !defined(_WIN32)  // SIGKILL
#include <signal.h>
#endif

#include <chrono>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#if defined(_WIN32)  // for the children started by spawn below
#include <stdexcept>
#endif

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;
using mpshm_test::contains;
using mpshm_test::error_of;
#if !defined(_WIN32)  // POSIX-only helpers: fork(), pipes, /dev/shm
using mpshm_test::exit_code;
using mpshm_test::Pipe;
using mpshm_test::run_in_child;
using mpshm_test::run_in_children;
using mpshm_test::segment_exists;
#endif

namespace {

#if !defined(_WIN32)  // the sizes of the fork()ed tests
constexpr int processes = 4;
constexpr int increments = 100'000;
#endif

struct Point {
    std::int32_t x;
    std::int32_t y;
};
struct OtherPoint {
    std::int32_t a;
    std::int32_t b;
};
struct Tagged {
    double v;
};

}  // namespace

template <>
struct mpshm::type_tag<Tagged> {
    static constexpr std::uint64_t value = 0x5461676765640001ULL;
};

TEST(Value, StartsAtZeroOrItsInitialValue) {
    mp::Value<int> zero;
    EXPECT_EQ(zero.load(), 0);
    mp::Value<int> five(5);
    EXPECT_EQ(five.load(), 5);
    five.store(7);
    EXPECT_EQ(five.load(), 7);
    mp::RawValue<double> half(0.5);
    EXPECT_EQ(half.load(), 0.5);
}

TEST(Value, CompoundAssignmentsReturnTheNewValue) {
    mp::Value<int> v(10);
    EXPECT_EQ(v += 5, 15);
    EXPECT_EQ(v -= 3, 12);
    EXPECT_EQ(v *= 2, 24);
    EXPECT_EQ(v /= 5, 4);
    EXPECT_EQ(v %= 3, 1);
    EXPECT_EQ(v |= 6, 7);
    EXPECT_EQ(v &= 5, 5);
    EXPECT_EQ(v ^= 1, 4);
    EXPECT_EQ(v <<= 3, 32);
    EXPECT_EQ(v >>= 2, 8);
    EXPECT_EQ(++v, 9);
    EXPECT_EQ(v++, 9);
    EXPECT_EQ(v.load(), 10);
    EXPECT_EQ(--v, 9);
    EXPECT_EQ(v--, 9);
    EXPECT_EQ(v.load(), 8);
    mp::Value<double> d(1.5);
    EXPECT_EQ(d += 1, 2.5);
    EXPECT_EQ(d *= 2, 5.0);
    EXPECT_EQ(d++, 5.0);
    EXPECT_EQ(d.load(), 6.0);
}

TEST(Value, FloatUpdatesComputeInDoubleLikePython) {
    mp::Value<float> f(5.0F);
    f += 0.1;  // Python: shared_float.value += 0.1
    std::ostringstream out;
    out << f;
    EXPECT_EQ(out.str(), "5.099999904632568");
}

TEST(Value, IntegersWrapLikeCtypesAndBadOperandsRaise) {
    mp::Value<std::int8_t> small(127);
    EXPECT_EQ(small += 1, -128);
    mp::Value<std::int32_t> big(INT32_MIN);
    EXPECT_EQ(big /= -1, INT32_MIN);
    EXPECT_EQ(big -= 1, INT32_MAX);
    mp::Value<int> v(7);
    EXPECT_THROW(v /= 0, std::domain_error);
    EXPECT_THROW(v %= 0, std::domain_error);
    EXPECT_THROW(v <<= -1, std::invalid_argument);
    EXPECT_THROW(v >>= 32, std::invalid_argument);
    EXPECT_EQ(v.load(), 7) << "a refused operation changes nothing";
}

// POSIX only: fork()ed children (Windows: four spawned processes adding
// under the lock, in tests/win32/).
#if !defined(_WIN32)
TEST(Value, FourProcessesIncrementWithoutLosingAnUpdate) {
    mp::Value<std::int64_t> v(0);
    const int ok = run_in_children(processes, [&](int) {
        for (int i = 0; i < increments; ++i) v += 1;
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(v.load(), std::int64_t{processes} * increments);
}

TEST(Value, PlainLockAndLockFreeAndRawIncrementsAreExactToo) {
    mp::Value<std::int64_t, mp::Lock> locked(0);
    mp::Value<std::int64_t> atomic(0);
    mp::RawValue<std::int64_t> raw(0);
    const int ok = run_in_children(processes, [&](int) {
        for (int i = 0; i < increments; ++i) {
            locked += 1;
            atomic.fetch_add(1);
            raw += 1;
        }
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(locked.load(), std::int64_t{processes} * increments);
    EXPECT_EQ(atomic.load(), std::int64_t{processes} * increments);
    EXPECT_EQ(raw.load(), std::int64_t{processes} * increments);
}

// Locked updates use plain reads and writes until the first lock-free one;
// here the lock-free ones start while locked ones run, in other processes.
TEST(Value, LockedAndLockFreeIncrementsMixedOnOneValueAreExact) {
    mp::Value<std::int64_t> v(0);
    const int ok = run_in_children(processes, [&](int child) {
        for (int i = 0; i < increments; ++i) {
            if (child % 2 == 0)
                v += 1;
            else
                v.fetch_add(1);
        }
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(v.load(), std::int64_t{processes} * increments);
}

// A guard's `*g += 1` once was a plain read and write: a fetch_add by another
// process in between was lost (364,842 of 400,000 in one run).
TEST(Value, GuardIncrementsAndLockFreeIncrementsMixedOnOneValueAreExact) {
    mp::Value<std::int64_t> v(0);
    const int ok = run_in_children(processes, [&](int child) {
        for (int i = 0; i < increments; ++i) {
            if (child % 2 == 0) {
                auto g = v.lock();
                *g += 1;
            } else {
                v.fetch_add(1);
            }
        }
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(v.load(), std::int64_t{processes} * increments);
}

// Threads and processes at once (ThreadSanitizer checks the threads' side):
// in each of two processes one thread increments through a guard, one with
// +=, one with fetch_add, and one stores the value it loads under the lock.
TEST(Value, ThreadsAndProcessesMixGuardsPlusEqualsAndFetchAddExactly) {
    constexpr int each = 20'000;
    mp::Value<std::int64_t> v(0);
    mp::Value<std::int64_t> untouched(7);
    const int ok = run_in_children(2, [&](int) {
        std::vector<std::thread> threads;
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                auto g = v.lock();
                *g += 1;
            }
        });
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) v += 1;
        });
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) v.fetch_add(1);
        });
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) untouched.store(untouched.load());
        });
        for (auto& t : threads) t.join();
        return 0;
    });
    ASSERT_EQ(ok, 2);
    EXPECT_EQ(v.load(), 2 * 3 * each);
    EXPECT_EQ(untouched.load(), 7);
}

// Why the atomic form exists: Python's `v.value += 1` is a read and then a
// write, and another process can write in between. Forced here, step by step.
TEST(Value, ReadThenWriteLosesAnUpdateThatPlusEqualsCannot) {
    mp::Value<int> v(0);
    Pipe child_read;
    Pipe parent_wrote;
    const ::pid_t pid = mpshm_test::start_child([&] {
        const int seen = v.load();  // read ...
        child_read.signal();
        parent_wrote.wait();
        v.store(seen + 1);  // ... then write, over the parent's update
        return 0;
    });
    ASSERT_TRUE(child_read.wait());
    v.store(v.load() + 1);
    parent_wrote.signal();
    ASSERT_EQ(exit_code(mpshm_test::wait_child(pid)), 0);
    EXPECT_EQ(v.load(), 1) << "two read-then-write increments should have lost one";

    // The same two increments as single steps: the child's += waits for the
    // parent's critical section instead of overwriting it.
    mp::Value<int> w(0);
    auto guard = w.lock();
    const ::pid_t adder = mpshm_test::start_child([&] {
        w += 1;
        return 0;
    });
    *guard += 1;
    { auto release = std::move(guard); }
    ASSERT_EQ(exit_code(mpshm_test::wait_child(adder)), 0);
    EXPECT_EQ(w.load(), 2);
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)  // no fork(): a target for a child started by spawn
namespace {
void try_to_take_the_lock(mp::Value<int>& v, mp::Value<int>& took) {
    took.store(v.get_lock().acquire(false) ? 1 : 0);
}
}  // namespace
#endif

TEST(Value, GuardHoldsTheLockForALongerCriticalSection) {
    mp::Value<int> v(3);
    {
        auto g = v.lock();
        *g = *g * 10 + 1;
        v += 1;      // the default RLock lets the holder re-enter
#if defined(_WIN32)  // no fork(): the other process is started by spawn
        mp::Value<int> took(-1);
        mp::Process other(try_to_take_the_lock, v, took);
        other.start();
        other.join();
        EXPECT_EQ(other.exitcode(), 0);
        EXPECT_EQ(took.load(), 0);
#else
        const int blocked = run_in_child([&] { return v.get_lock().acquire(false) ? 1 : 0; });
        EXPECT_EQ(exit_code(blocked), 0);
#endif
    }
    EXPECT_EQ(v.load(), 32);
    mp::Value<Point> p(Point{1, 2});
    {
        auto g = p.lock();
        g->x += 40;
    }
    EXPECT_EQ(p.load().x, 41);
}

TEST(Value, LockFreeAtomicsNeedNoLock) {
    mp::Value<std::uint32_t> v(5);
    EXPECT_EQ(v.fetch_add(3), 5U);
    EXPECT_EQ(v.fetch_sub(1), 8U);
    EXPECT_EQ(v.exchange(100), 7U);
    std::uint32_t expected = 100;
    EXPECT_TRUE(v.compare_exchange(expected, 200));
    expected = 1;
    EXPECT_FALSE(v.compare_exchange(expected, 300));
    EXPECT_EQ(expected, 200U);
    EXPECT_EQ(v.fetch_or(1), 200U);
    EXPECT_EQ(v.fetch_and(0xF0), 201U);
    EXPECT_EQ(v.fetch_xor(0xFF), 0xC0U);
    EXPECT_EQ(v.load(), 0x3FU);
}

// POSIX only: SIGKILL and fork()ed children (Windows: the variants below,
// and a killed owner in tests/win32/).
#if !defined(_WIN32)
TEST(Value, KilledLockHolderIsRecoveredAndTheValueStaysUsable) {
    mp::Value<int> v(41);
    Pipe held;
    const ::pid_t pid = mpshm_test::start_child([&] {
        auto g = v.lock();
        auto again = v.lock();  // the default RLock, held twice
        held.signal();
        Pipe never;
        never.wait();
        return 0;
    });
    ASSERT_TRUE(held.wait());
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), -SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(v += 1, 42);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
    EXPECT_TRUE(v.get_lock().previous_owner_died());
    EXPECT_EQ(v.get_lock().recoveries(), 1U);
    v.store(7);
    EXPECT_EQ(v.load(), 7);
    EXPECT_FALSE(v.get_lock().previous_owner_died());
}

TEST(Value, ASharedLockGuardsSeveralValuesAndTravelsByName) {
    mp::RLock shared;
    mp::Value<int> a(1, shared);
    mp::Value<int> b(2, a.get_lock());  // Python: Value('i', 2, lock=a.get_lock())
    EXPECT_EQ(a.get_lock().name(), shared.name());
    EXPECT_EQ(b.get_lock().name(), shared.name());
    shared.acquire();
    const int status = run_in_child([name = b.name()] {
        auto attached = mp::Value<int>::attach(name);
        if (attached.get_obj() != 2) return 2;  // unlocked read: the parent holds the lock
        // The attached Value found the shared lock, which the parent holds.
        return attached.get_lock().acquire(false) ? 1 : 0;
    });
    EXPECT_EQ(exit_code(status), 0);
    shared.release();
    const int free_now = run_in_child([name = a.name()] {
        auto attached = mp::Value<int>::attach(name);
        attached += 10;
        return attached.load() == 11 ? 0 : 1;
    });
    EXPECT_EQ(exit_code(free_now), 0);
    EXPECT_EQ(a.load(), 11);
}

TEST(Value, AttachFromAnotherProcessSharesTheValue) {
    mp::Value<double> v(1.25);
    const int status = run_in_child([name = v.name()] {
        auto other = mp::Value<double>::attach(name);
        if (other.load() != 1.25) return 2;
        other += 1;
        return 0;
    });
    ASSERT_EQ(exit_code(status), 0);
    EXPECT_EQ(v.load(), 2.25);
}
#endif  // !defined(_WIN32)

// The same with children started by spawn, which attach by name.
#if defined(_WIN32)
namespace {

void probe_the_shared_lock(std::string name, mp::Value<int>& seen, mp::Value<int>& took) {
    auto attached = mp::Value<int>::attach(name);
    seen.store(attached.get_obj());  // unlocked read: the parent holds the lock
    took.store(attached.get_lock().acquire(false) ? 1 : 0);
}

void add_ten(std::string name) {
    auto attached = mp::Value<int>::attach(name);
    attached += 10;
}

void attach_and_add_one(std::string name) {
    auto other = mp::Value<double>::attach(name);
    if (other.load() != 1.25) {
        throw std::runtime_error("the child read " + std::to_string(other.load()));
    }
    other += 1;
}

}  // namespace

TEST(Value, ASharedLockGuardsSeveralValuesAndTravelsByNameToASpawnedChild) {
    mp::RLock shared;
    mp::Value<int> a(1, shared);
    mp::Value<int> b(2, a.get_lock());
    EXPECT_EQ(b.get_lock().name(), shared.name());
    mp::Value<int> seen(-1);
    mp::Value<int> took(-1);
    shared.acquire();
    mp::Process prober(probe_the_shared_lock, b.name(), seen, took);
    prober.start();
    prober.join();
    shared.release();
    ASSERT_EQ(prober.exitcode(), 0);
    EXPECT_EQ(seen.load(), 2);
    EXPECT_EQ(took.load(), 0) << "the attached Value did not find the lock the parent holds";
    mp::Process adder(add_ten, a.name());
    adder.start();
    adder.join();
    ASSERT_EQ(adder.exitcode(), 0);
    EXPECT_EQ(a.load(), 11);
}

TEST(Value, AttachFromASpawnedChildSharesTheValue) {
    mp::Value<double> v(1.25);
    mp::Process child(attach_and_add_one, v.name());
    child.start();
    child.join();
    ASSERT_EQ(child.exitcode(), 0);
    EXPECT_EQ(v.load(), 2.25);
}
#endif  // defined(_WIN32)

TEST(Value, AttachRefusesTheWrongTypeKindLengthOrLock) {
    mp::Value<int> v(5);
    std::string what =
        error_of<mp::TypeMismatchError>([&] { (void)mp::Value<double>::attach(v.name()); });
    EXPECT_TRUE(contains(what, v.name()) && contains(what, "'i'") && contains(what, "'d'")) << what;
    what = error_of<mp::TypeMismatchError>([&] { (void)mp::Array<int, 10>::attach(v.name()); });
    EXPECT_TRUE(contains(what, "holds a Value")) << what;
    what = error_of<mp::TypeMismatchError>([&] { (void)mp::Array<int, 11>::attach(v.name()); });
    EXPECT_TRUE(contains(what, "holds a Value")) << what;
    what = error_of<mp::TypeMismatchError>([&] { (void)mp::RawValue<int>::attach(v.name()); });
    EXPECT_TRUE(contains(what, "RLock")) << what;
    EXPECT_THROW((void)(mp::Value<int, mp::Lock>::attach(v.name())), mp::TypeMismatchError);
    EXPECT_THROW((void)mp::Value<unsigned>::attach(v.name()), mp::TypeMismatchError);
    EXPECT_NO_THROW((void)mp::Value<int>::attach(v.name()));
}

TEST(Value, StructsAreTaggedByTypeOrByTheUsersTag) {
    mp::Value<Point> p(Point{3, 4});
    auto same = mp::Value<Point>::attach(p.name());
    EXPECT_EQ(same.load().y, 4);
    EXPECT_THROW((void)mp::Value<OtherPoint>::attach(p.name()), mp::TypeMismatchError);
    mp::Value<Tagged> t(Tagged{2.5});
    EXPECT_EQ(mp::Value<Tagged>::attach(t.name()).load().v, 2.5);
    static_assert(mp::type_tag<Tagged>::value == 0x5461676765640001ULL);
}

TEST(Value, AttachRefusesSegmentsThatAreNotMpshmObjects) {
    // Random bytes.
    mp::SharedMemory noise({.create = true, .size = 4096});
    mpshm::detail::os::fill_random(noise.buf().data(), noise.size());
    std::string what =
        error_of<mp::CorruptSegmentError>([&] { (void)mp::Value<int>::attach(noise.name()); });
    EXPECT_TRUE(contains(what, noise.name()) && contains(what, "not an mpshm object")) << what;
    // Too small to hold a header (POSIX only: a Win32 attacher sees whole
    // pages, as Python's does on Windows).
#if !defined(_WIN32)
    mp::SharedMemory tiny({.create = true, .size = 16});
    what = error_of<mp::CorruptSegmentError>([&] { (void)mp::Value<int>::attach(tiny.name()); });
    EXPECT_TRUE(contains(what, "too small")) << what;
#endif
    // Zeros: a header never published.
    mp::SharedMemory zeros({.create = true, .size = 4096});
    what = error_of<mp::CorruptSegmentError>([&] { (void)mp::Value<int>::attach(zeros.name()); });
    EXPECT_TRUE(contains(what, "never published")) << what;
    EXPECT_THROW((void)mp::Value<int>::attach(mpshm_test::unique_name("absent")),
                 mp::FileNotFoundError);
}

TEST(Value, AttachRefusesADamagedHeader) {
    mp::Value<int> v(5);
    mp::SharedMemory raw(v.name());
    auto* header = reinterpret_cast<mpshm::detail::SegmentHeader*>(raw.buf().data());
    header->count = 2;  // damaged, checksum now wrong
    std::string what =
        error_of<mp::CorruptSegmentError>([&] { (void)mp::Value<int>::attach(v.name()); });
    EXPECT_TRUE(contains(what, "damaged")) << what;
    // Consistent but impossible: more data than the segment holds.
    header->count = 1'000'000;
    header->data_bytes = 4'000'000;
    header->checksum = header->compute_checksum();
    what = error_of<mp::CorruptSegmentError>([&] { (void)mp::Value<int>::attach(v.name()); });
    EXPECT_TRUE(contains(what, "does not fit")) << what;
}

// POSIX only: unlink (a Win32 section goes with its last handle) and a
// fork()ed child's copy of the creator.
#if !defined(_WIN32)
TEST(Value, OnlyTheCreatorRemovesTheSegment) {
    std::string name;
    {
        mp::Value<int> v(1);
        name = v.name();
        {
            auto attached = mp::Value<int>::attach(name);
            mp::Value<int> copy = v;  // copies share the segment
            copy += 1;
        }
        EXPECT_TRUE(segment_exists(name)) << "an attacher or a copy must not remove it";
        const int status = run_in_child([&] {
            mp::Value<int> childs_copy = std::move(v);  // destroyed in the child
            return 0;
        });
        EXPECT_EQ(exit_code(status), 0);
        EXPECT_TRUE(segment_exists(name)) << "a fork()ed child must not remove it";
        EXPECT_EQ(v.load(), 2);
    }
    EXPECT_FALSE(segment_exists(name)) << "the creator removes it";
    mp::Value<int> kept(3, {.track = false});
    const std::string kept_name = kept.name();
    mpshm_test::SegmentCleanup cleanup(kept_name);
    { mp::Value<int> gone = std::move(kept); }
    EXPECT_TRUE(segment_exists(kept_name)) << ".track = false keeps it";
}
#endif  // !defined(_WIN32)

TEST(Value, NamedValuesCanBeFoundByTheirName) {
    const std::string name = mpshm_test::unique_name("named_value");
    mp::Value<int> v(9, {.name = name});
    EXPECT_EQ(v.name(), name);
    EXPECT_EQ(mp::Value<int>::attach(name).load(), 9);
    EXPECT_THROW(mp::Value<int>(1, {.name = name}), mp::FileExistsError);
}

// POSIX only: CPython beside the program (there is none under Wine).
#if !defined(_WIN32)
TEST(Value, PrintsWhatPythonPrints) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const auto expected = mpshm_test::run_command(
        {*python, "-c",
         "import ctypes\n"
         "from multiprocessing import Value\n"
         "for code, init in [('i', -42), ('i', 7), ('q', 2**40), ('f', 5.1), ('f', 0.1), "
         "('d', 0.1), ('d', 1e16), ('d', 1e-5), ('d', 123456.789), ('d', -0.0), ('d', 2.0), "
         "('d', 1.5e300), (ctypes.c_bool, True), (ctypes.c_bool, False), ('c', b'a'), ('c', "
         "b'\\n'), ('c', b\"'\"), "
         "('b', -5), ('B', 250)]:\n"
         "    print(Value(code, init).value if code != 'c' else repr(Value(code, init).value))\n"});
    ASSERT_EQ(expected.exit_code, 0);
    std::ostringstream out;
    out << mp::Value<int>(-42) << '\n'
        << mp::Value<int>(7) << '\n'
        << mp::Value<long long>(1LL << 40) << '\n'
        << mp::Value<float>(5.1F) << '\n'
        << mp::Value<float>(0.1F) << '\n'
        << mp::Value<double>(0.1) << '\n'
        << mp::Value<double>(1e16) << '\n'
        << mp::Value<double>(1e-5) << '\n'
        << mp::Value<double>(123456.789) << '\n'
        << mp::Value<double>(-0.0) << '\n'
        << mp::Value<double>(2.0) << '\n'
        << mp::Value<double>(1.5e300) << '\n'
        << mp::Value<bool>(true) << '\n'
        << mp::Value<bool>(false) << '\n'
        << mp::Value<char>('a') << '\n'
        << mp::Value<char>('\n') << '\n'
        << mp::Value<char>('\'') << '\n'
        << mp::Value<signed char>(-5) << '\n'
        << mp::Value<unsigned char>(250) << '\n';
    EXPECT_EQ(out.str(), expected.out);
}
#endif  // !defined(_WIN32)
