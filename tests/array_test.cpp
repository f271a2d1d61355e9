// Tests for mpshm/array.hpp: Python's Array and RawArray, across processes.
// SPDX-License-Identifier: MIT
#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using mpshm_test::contains;
using mpshm_test::error_of;
using mpshm_test::printed;
#if !defined(_WIN32)  // POSIX-only helpers: fork(), /dev/shm
using mpshm_test::exit_code;
using mpshm_test::run_in_child;
using mpshm_test::run_in_children;
using mpshm_test::segment_exists;
#else
namespace {

// Windows has no fork(): these run in processes started by spawn.
void try_to_take_the_lock(mp::Array<int, 3>& a, mp::Value<int>& took) {
    took.store(a.get_lock().acquire(false) ? 1 : 0);
}

void try_to_take_the_shared_lock(std::string name, mp::Value<int>& took) {
    auto attached = mp::Array<int, mp::dynamic_extent, mp::Lock>::attach(name);
    took.store(attached.get_lock().acquire(false) ? 1 : 0);
}

}  // namespace
#endif

TEST(Array, IsZeroFilledOrInitialised) {
    mp::Array<int, 10> a;
    EXPECT_EQ(a.size(), 10U);
    EXPECT_EQ(a.to_vector(), std::vector<int>(10, 0));
    mp::Array<int, 5> b{1, 2, 3, 4, 5};
    EXPECT_EQ(b.to_vector(), (std::vector<int>{1, 2, 3, 4, 5}));
    mp::Array<int, 5> front{7, 8};
    EXPECT_EQ(front.to_vector(), (std::vector<int>{7, 8, 0, 0, 0}));
    const std::size_t n = 6;
    mp::Array<double> c(n);
    EXPECT_EQ(c.size(), 6U);
    mp::Array<int> d{4, 5, 6};
    EXPECT_EQ(d.size(), 3U);
    const std::vector<float> values{1.5F, 2.5F};
    mp::RawArray<float> e{std::span<const float>(values)};
    EXPECT_EQ(e.to_vector(), values);
    mp::Array<int> empty(std::size_t{0});
    EXPECT_TRUE(empty.empty());
    EXPECT_EQ(printed(empty), "[]");
    EXPECT_THROW((mp::Array<int, 2>{1, 2, 3}), std::invalid_argument);
    // A length whose byte size overflows is refused, not wrapped to a small segment.
    EXPECT_THROW(mp::Array<int>(std::size_t{1} << 62U), std::invalid_argument);
    EXPECT_THROW(mp::Array<std::int64_t>(SIZE_MAX / 4), std::invalid_argument);
}

TEST(Array, ElementsReadWriteAndUpdateInOneStep) {
    mp::Array<int, 10> a;
    a[3] = 4;
    a[3] += 1;
    const int x = a[3];
    EXPECT_EQ(x, 5);
    EXPECT_EQ(a[3] *= 3, 15);
    EXPECT_EQ(++a[3], 16);
    EXPECT_EQ(a[3]++, 16);
    EXPECT_EQ(a[3].load(), 17);
    a[0] = a[3];
    EXPECT_EQ(a[0].load(), 17);
    a.at(1).store(2);
    EXPECT_EQ(a[1] <<= 2, 8);
}

TEST(Array, IndicesFollowPythonAndOutOfRangeRaises) {
    mp::Array<int, 5> a{10, 20, 30, 40, 50};
    EXPECT_EQ(a[-1], 50);
    EXPECT_EQ(a[-5], 10);
    std::string what = error_of<std::out_of_range>([&] { (void)a[5]; });
    EXPECT_TRUE(contains(what, a.name()) && contains(what, "index 5") && contains(what, "length 5"))
        << what;
    EXPECT_THROW((void)a[-6], std::out_of_range);
    EXPECT_THROW((void)a.at(100), std::out_of_range);
    EXPECT_THROW(a.fetch_add(7, 1), std::out_of_range);
}

TEST(Array, SnapshotsSlicesFillAndIteration) {
    mp::Array<int, 6> a{0, 1, 2, 3, 4, 5};
    EXPECT_EQ(a.slice(1, 3), (std::vector<int>{1, 2}));
    EXPECT_EQ(a.slice(-3, 6), (std::vector<int>{3, 4, 5}));
    EXPECT_EQ(a.slice(4, 100), (std::vector<int>{4, 5}));
    EXPECT_EQ(a.slice(5, 2), std::vector<int>{});
    EXPECT_EQ(a.slice(-100, 2), (std::vector<int>{0, 1}));
    int sum = 0;
    for (const int v : a) sum += v;
    EXPECT_EQ(sum, 15);
    for (auto element : a) element += 1;
    EXPECT_EQ(a.to_vector(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
    a.fill(9);
    EXPECT_EQ(a.to_vector(), std::vector<int>(6, 9));
    const std::vector<int> replacement{6, 5, 4, 3, 2, 1};
    a.assign(replacement);
    EXPECT_EQ(a.to_vector(), replacement);
    EXPECT_THROW(a.assign(std::vector<int>{1, 2}), std::invalid_argument);
    std::vector<int> out(6);
    a.copy_to(out);
    EXPECT_EQ(out, replacement);
    EXPECT_THROW(a.copy_to(std::span<int>(out).first(5)), std::invalid_argument);
    // After a lock-free operation, bulk copies go element by element: same results.
    a.fetch_add(0, 10);
    EXPECT_EQ(a.to_vector(), (std::vector<int>{16, 5, 4, 3, 2, 1}));
    EXPECT_EQ(a.slice(1, 3), (std::vector<int>{5, 4}));
    a.assign(replacement);
    a.copy_to(out);
    EXPECT_EQ(out, replacement);
    auto raw = a.get_obj();
    EXPECT_EQ(raw.size(), 6U);
    raw[0] = 60;
    EXPECT_EQ(a[0], 60);
}

TEST(Array, GuardGivesTheElementsUnderTheLock) {
    mp::Array<int, 3> a{1, 2, 3};
    {
        auto g = a.lock();
        g[0] = g[1] + g[2];
        std::reverse(g.begin(), g.end());
#if defined(_WIN32)  // no fork(): the other process is started by spawn
        mp::Value<int> took(-1);
        mp::Process other(try_to_take_the_lock, a, took);
        other.start();
        other.join();
        EXPECT_EQ(other.exitcode(), 0);
        EXPECT_EQ(took.load(), 0);
#else
        const int blocked = run_in_child([&] { return a.get_lock().acquire(false) ? 1 : 0; });
        EXPECT_EQ(exit_code(blocked), 0);
#endif
    }
    EXPECT_EQ(a.to_vector(), (std::vector<int>{3, 2, 5}));
}

// POSIX only: fork()ed children (Windows: three spawned processes adding to
// every element, in tests/win32/).
#if !defined(_WIN32)
TEST(Array, FourProcessesIncrementEveryElementWithoutLosingAnUpdate) {
    constexpr int processes = 4;
    constexpr int rounds = 10'000;
    mp::Array<std::int64_t, 10> a;
    mp::RawArray<std::int64_t, 10> raw;
    const int ok = run_in_children(processes, [&](int) {
        for (int r = 0; r < rounds; ++r) {
            for (std::ptrdiff_t i = 0; i < 10; ++i) {
                a[i] += 1;
                raw.fetch_add(i, 1);
            }
        }
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(a.to_vector(), std::vector<std::int64_t>(10, processes * rounds));
    EXPECT_EQ(raw.to_vector(), std::vector<std::int64_t>(10, processes * rounds));
}

// Locked updates use plain reads and writes until the first lock-free one;
// here the lock-free ones start while locked ones run, in other processes.
TEST(Array, LockedAndLockFreeIncrementsMixedOnOneArrayAreExact) {
    constexpr int processes = 4;
    constexpr int rounds = 20'000;
    mp::Array<std::int64_t, 2> a;
    const int ok = run_in_children(processes, [&](int child) {
        for (int r = 0; r < rounds; ++r) {
            for (std::ptrdiff_t i = 0; i < 2; ++i) {
                if (child % 2 == 0)
                    a[i] += 1;
                else
                    a.fetch_add(i, 1);
            }
        }
        return 0;
    });
    ASSERT_EQ(ok, processes);
    EXPECT_EQ(a.to_vector(), std::vector<std::int64_t>(2, processes * rounds));
}

// A guard's element updates are as atomic as `a[i] += 1` against lock-free
// operations in other processes.
TEST(Array, GuardUpdatesAndLockFreeIncrementsMixedOnOneArrayAreExact) {
    constexpr int processes = 4;
    constexpr int rounds = 500'000;
    mp::Array<std::int64_t, 2> a;
    mp::Event go;  // released together, so that they overlap
    std::vector<::pid_t> children;
    for (int child = 0; child < processes; ++child) {
        children.push_back(mpshm_test::start_child([&, child] {
            go.wait();
            for (int r = 0; r < rounds; ++r) {
                if (child % 2 == 0) {
                    auto g = a.lock();
                    g[0] += 1;
                    ++g[1];
                } else {
                    a.fetch_add(0, 1);
                    a.fetch_add(1, 1);
                }
            }
            return 0;
        }));
    }
    go.set();
    for (const ::pid_t pid : children) EXPECT_EQ(exit_code(mpshm_test::wait_child(pid)), 0);
    EXPECT_EQ(a.to_vector(), std::vector<std::int64_t>(2, processes * rounds));
}

// Threads and processes at once (ThreadSanitizer checks the threads' side):
// guards, +=, fetch_add and a locked bulk copy on one Array.
TEST(Array, ThreadsAndProcessesMixGuardsPlusEqualsFetchAddAndCopies) {
    constexpr int each = 10'000;
    mp::Array<std::int64_t, 4> a;
    const int ok = run_in_children(2, [&](int) {
        std::vector<std::thread> threads;
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                auto g = a.lock();
                g[0] += 1;
                g[1] += 1;
            }
        });
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                a[0] += 1;
                a[1] += 1;
            }
        });
        threads.emplace_back([&] {
            for (int i = 0; i < each; ++i) {
                a.fetch_add(0, 1);
                a.fetch_add(1, 1);
            }
        });
        threads.emplace_back([&] {
            std::vector<std::int64_t> copy(4);
            for (int i = 0; i < each; ++i) {
                a.copy_to(copy);
                if (copy[2] != 0 || copy[3] != 0) std::abort();
            }
        });
        for (auto& t : threads) t.join();
        return 0;
    });
    ASSERT_EQ(ok, 2);
    EXPECT_EQ(a.to_vector(), (std::vector<std::int64_t>{2 * 3 * each, 2 * 3 * each, 0, 0}));
}
#endif  // !defined(_WIN32)

TEST(Array, AttachChecksTypeAndLength) {
    mp::Array<int, 10> a;
    a[9] = 99;
    EXPECT_EQ((mp::Array<int, 10>::attach(a.name())[9]), 99);
    auto any_length = mp::Array<int>::attach(a.name());
    EXPECT_EQ(any_length.size(), 10U);
    std::string what =
        error_of<mp::TypeMismatchError>([&] { (void)mp::Array<int, 11>::attach(a.name()); });
    EXPECT_TRUE(contains(what, "10 elements")) << what;
    EXPECT_THROW((void)(mp::Array<double, 10>::attach(a.name())), mp::TypeMismatchError);
    EXPECT_THROW((void)mp::Value<int>::attach(a.name()), mp::TypeMismatchError);
    EXPECT_THROW((void)(mp::RawArray<int, 10>::attach(a.name())), mp::TypeMismatchError);
}

TEST(Array, AnEmptyArrayCopiesAndAssignsNothing) {
    // Found by fuzzing (tests/fuzz): copy_to() and assign() handed memcpy the
    // null data() of an empty span, which UBSan reports.
    const mp::Array<int> empty(std::size_t{0});
    std::vector<int> none;
    empty.copy_to(none);
    mp::Array<int> same = mp::Array<int>::attach(empty.name());
    same.assign(none);
    EXPECT_TRUE(same.to_vector().empty());
}

// POSIX only: a fork()ed child's copy, and unlink (a Win32 section goes with
// its last handle).
#if !defined(_WIN32)
TEST(Array, ChildWritesAreSeenAndOnlyTheCreatorRemoves) {
    std::string name;
    {
        mp::Array<int, 4> a;
        name = a.name();
        const int status = run_in_child([&] {
            for (std::ptrdiff_t i = 0; i < 4; ++i) a[i] += static_cast<int>(i) + 1;
            auto attached = mp::Array<int, 4>::attach(name);
            attached[0] += 100;
            return 0;
        });
        ASSERT_EQ(exit_code(status), 0);
        EXPECT_EQ(a.to_vector(), (std::vector<int>{101, 2, 3, 4}));
        EXPECT_TRUE(segment_exists(name));
    }
    EXPECT_FALSE(segment_exists(name));
}
#endif  // !defined(_WIN32)

TEST(Array, ASharedLockGuardsArraysAndValuesTogether) {
    mp::Lock shared;
    mp::Array<int, 3, mp::Lock> a(shared);
    mp::Array<int, mp::dynamic_extent, mp::Lock> b(std::size_t{2}, shared);
    mp::Value<int, mp::Lock> v(0, shared);
    shared.acquire();
#if defined(_WIN32)  // no fork(): the other process is started by spawn
    mp::Value<int> took(-1);
    mp::Process other(try_to_take_the_shared_lock, b.name(), took);
    other.start();
    other.join();
    EXPECT_EQ(other.exitcode(), 0);
    EXPECT_EQ(took.load(), 0);
#else
    const int status = run_in_child([name = b.name()] {
        auto attached = mp::Array<int, mp::dynamic_extent, mp::Lock>::attach(name);
        return attached.get_lock().acquire(false) ? 1 : 0;
    });
    EXPECT_EQ(exit_code(status), 0);
#endif
    shared.release();
    a[0] = 1;
    b[1] = 2;
    v += 3;
    EXPECT_EQ(a[0] + b[1] + v.load(), 6);
}

// POSIX only: CPython beside the program (there is none under Wine).
#if !defined(_WIN32)
TEST(Array, PrintsWhatPythonPrints) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const auto expected = mpshm_test::run_command(
        {*python, "-c",
         "import ctypes\n"
         "from multiprocessing import Array\n"
         "print(list(Array('i', [1, -2, 3])))\n"
         "print(list(Array('f', [5.1, 0.5, 1e20])))\n"
         "print(list(Array('d', [0.1, 1e16, 1e-05, 100.0, float('inf')])))\n"
         "print(list(Array(ctypes.c_bool, [True, False])))\n"
         "print(list(Array('c', b'ab\\x00')))\n"
         "print(list(Array('i', 3)))\n"});
    ASSERT_EQ(expected.exit_code, 0);
    std::ostringstream out;
    out << mp::Array<int, 3>{1, -2, 3} << '\n'
        << mp::Array<float>{5.1F, 0.5F, 1e20F} << '\n'
        << mp::Array<double>{0.1, 1e16, 1e-05, 100.0, std::numeric_limits<double>::infinity()}
        << '\n'
        << mp::Array<bool>{true, false} << '\n'
        << mp::Array<char>{'a', 'b', '\0'} << '\n'
        << mp::Array<int, 3>{} << '\n';
    EXPECT_EQ(out.str(), expected.out);
}
#endif  // !defined(_WIN32)
