// Tests for mpshm/managers.hpp: Manager, List and Dict against Python's
// list and dict, across processes, when full, and when processes die.
// SPDX-License-Identifier: MIT
#if !defined(_WIN32)
#include <signal.h>  // kill(): the tests of processes killed with SIGKILL
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using mpshm_test::printed;
using namespace std::chrono_literals;

namespace {

void increment_each(mp::List<int>& lst) {
    for (std::size_t i = 0; i < lst.size(); ++i) lst[static_cast<std::ptrdiff_t>(i)] += 1;
}

void increment_keys(mp::Dict<std::string, std::int64_t>& d) {
    for (int i = 0; i < 1000; ++i) {
        d["hits"] += 1;
        d["odd"] += i % 2;
    }
}

// POSIX only: CPython beside the program (none under Wine).
#if !defined(_WIN32)
std::string python_output(const std::string& script) {
    const auto python = mpshm_test::python3();
    if (!python) return {};
    const auto result = mpshm_test::run_command({*python, "-c", script});
    EXPECT_EQ(result.exit_code, 0) << script;
    return result.out;
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)
// What a fork()ed child does on POSIX in ContainersTravelToSpawnedChildrenAndAttachByName.
void attach_by_name_and_append(std::string name, std::string manager_name) {
    auto again = mp::List<int>::attach(name);
    again.append(4);
    auto m = mp::Manager::attach(manager_name);
    auto fresh = m.list<int>({42});
    if (fresh.size() != 1) throw std::runtime_error("a fresh list of the wrong size");
}
#endif

}  // namespace

// POSIX only: compared with CPython's output (no python under Wine).
#if !defined(_WIN32)
TEST(List, EveryMethodBehavesAsPythonsList) {
    const std::string expected = python_output(
        "lst = [3, 1, 2]\n"
        "lst.append(5); print(lst)\n"
        "lst.extend([7, 7]); print(lst)\n"
        "lst.insert(0, 9); lst.insert(-1, 4); lst.insert(100, 8); lst.insert(-100, 0); print(lst)\n"
        "print(lst.pop(), lst.pop(0), lst.pop(-2)); print(lst)\n"
        "lst.remove(7); print(lst)\n"
        "print(lst.index(7), lst.index(2, 1, 5), lst.count(7), lst.count(42), 4 in lst, 42 in "
        "lst)\n"
        "lst.reverse(); print(lst)\n"
        "lst.sort(); print(lst)\n"
        "lst.sort(reverse=True); print(lst)\n"
        "print(lst[1:3], lst[-2:], lst[5:1], lst[-100:2], len(lst), lst[-1], lst[0])\n"
        "lst[0] += 10; lst[-1] *= 3; lst[1] = 0; print(lst)\n"
        "lst.clear(); print(lst, len(lst))\n");
    if (expected.empty()) GTEST_SKIP() << "python3 not found";
    mp::Manager manager;
    auto lst = manager.list<int>({3, 1, 2});
    std::ostringstream out;
    const auto print_vector = [&](const std::vector<int>& v) {
        out << '[';
        for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << v[i];
        out << ']';
    };
    lst.append(5);
    out << lst << '\n';
    lst.extend({7, 7});
    out << lst << '\n';
    lst.insert(0, 9);
    lst.insert(-1, 4);
    lst.insert(100, 8);
    lst.insert(-100, 0);
    out << lst << '\n';
    const int a = lst.pop();
    const int b = lst.pop(0);
    const int c = lst.pop(-2);
    out << a << ' ' << b << ' ' << c << '\n' << lst << '\n';
    lst.remove(7);
    out << lst << '\n';
    out << lst.index(7) << ' ' << lst.index(2, 1, 5) << ' ' << lst.count(7) << ' ' << lst.count(42)
        << ' ' << (lst.contains(4) ? "True" : "False") << ' '
        << (lst.contains(42) ? "True" : "False") << '\n';
    lst.reverse();
    out << lst << '\n';
    lst.sort();
    out << lst << '\n';
    lst.sort(true);
    out << lst << '\n';
    print_vector(lst.slice(1, 3));
    out << ' ';
    print_vector(lst.slice(-2, PTRDIFF_MAX));
    out << ' ';
    print_vector(lst.slice(5, 1));
    out << ' ';
    print_vector(lst.slice(-100, 2));
    out << ' ' << lst.size() << ' ' << lst[-1] << ' ' << lst[0] << '\n';
    lst[0] += 10;
    lst[-1] *= 3;
    lst[1] = 0;
    out << lst << '\n';
    lst.clear();
    out << lst << ' ' << lst.size() << '\n';
    EXPECT_EQ(out.str(), expected);
}
#endif  // !defined(_WIN32)

TEST(List, ErrorsAreThoseOfPython) {
    mp::Manager manager;
    auto lst = manager.list<int>();
    EXPECT_THROW(lst.pop(), std::out_of_range);
    lst.append(1);
    EXPECT_THROW(lst.pop(5), std::out_of_range);
    EXPECT_THROW((void)lst.get(1), std::out_of_range);
    EXPECT_THROW(lst[-2] += 1, std::out_of_range);
    EXPECT_THROW((void)lst.at(3), std::out_of_range);
    EXPECT_THROW(lst.remove(2), std::invalid_argument);
    try {
        (void)lst.index(2);
        FAIL() << "index() of a missing value";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("2 is not in list"), std::string::npos) << e.what();
    }
    EXPECT_EQ(lst.to_vector(), std::vector<int>{1});
}

// POSIX only: compared with CPython's output (no python under Wine).
#if !defined(_WIN32)
TEST(List, StringsAndPrintingAsPython) {
    const std::string expected = python_output(
        "print(['a', \"it's\", 'tab\\there', ''])\n"
        "print([0.1, 2.0, 1e+16])\n"
        "print([True, False])\n");
    if (expected.empty()) GTEST_SKIP() << "python3 not found";
    mp::Manager manager;
    auto strings = manager.list<std::string>({"a", "it's", "tab\there", ""});
    auto floats = manager.list<double>({0.1, 2.0, 1e16});
    auto bools = manager.list<bool>({true, false});
    EXPECT_EQ(printed(strings) + '\n' + printed(floats) + '\n' + printed(bools) + '\n', expected);
    std::vector<std::string> seen;
    for (const auto& s : strings) seen.push_back(s);
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "it's", "tab\there", ""}));
    EXPECT_EQ(strings.index("it's"), 1U);
    strings.remove("a");
    EXPECT_EQ(strings.pop(0), "it's");
}

TEST(Dict, EveryMethodBehavesAsPythonsDict) {
    const std::string expected = python_output(
        "d = {}\n"
        "d['a'] = 1.5; d['b'] = 2.0; d['a'] += 1; print(d)\n"
        "print(d.get('a'), d.get('zz'), d.get('zz', -1.0), d.setdefault('c', 3.0), "
        "d.setdefault('a', 0.0))\n"
        "print(d.pop('b'), d.pop('zz', 9.5), d); print(d.popitem(), d)\n"
        "d.update([('x', 1.0), ('a', 7.0), ('x', 2.0)]); print(d, len(d), 'x' in d, 'q' in d)\n"
        "print(list(d.keys()), list(d.values()), list(d.items()))\n"
        "del d['x']; print(d); d.clear(); print(d)\n");
    if (expected.empty()) GTEST_SKIP() << "python3 not found";
    mp::Manager manager;
    auto d = manager.dict<std::string, double>();
    std::ostringstream out;
    d["a"] = 1.5;
    d["b"] = 2;
    d["a"] += 1;
    out << d << '\n';
    const auto opt = [](std::optional<double> v) {
        return v ? mp::detail::python_float_repr(*v) : "None";
    };
    out << opt(d.get("a")) << ' ' << opt(d.get("zz")) << ' '
        << printed(mp::Value<double>(d.get("zz", -1.0))) << ' '
        << mp::detail::python_float_repr(d.setdefault("c", 3.0)) << ' '
        << mp::detail::python_float_repr(d.setdefault("a", 0.0)) << '\n';
    const double popped = d.pop("b");
    const double fallback = d.pop("zz", 9.5);
    out << mp::detail::python_float_repr(popped) << ' ' << mp::detail::python_float_repr(fallback)
        << ' ' << d << '\n';
    const auto [key, value] = d.popitem();
    out << "(" << mp::detail::python_str_repr(key) << ", " << mp::detail::python_float_repr(value)
        << ") " << d << '\n';
    d.update({{"x", 1.0}, {"a", 7.0}, {"x", 2.0}});
    out << d << ' ' << d.size() << ' ' << (d.contains("x") ? "True" : "False") << ' '
        << (d.contains("q") ? "True" : "False") << '\n';
    out << "[";
    const auto keys = d.keys();
    for (std::size_t i = 0; i < keys.size(); ++i)
        out << (i ? ", " : "") << mp::detail::python_str_repr(keys[i]);
    out << "] [";
    const auto values = d.values();
    for (std::size_t i = 0; i < values.size(); ++i)
        out << (i ? ", " : "") << mp::detail::python_float_repr(values[i]);
    out << "] [";
    const auto items = d.items();
    for (std::size_t i = 0; i < items.size(); ++i) {
        out << (i ? ", " : "") << "(" << mp::detail::python_str_repr(items[i].first) << ", "
            << mp::detail::python_float_repr(items[i].second) << ")";
    }
    out << "]\n";
    d.erase("x");
    out << d << '\n';
    d.clear();
    out << d << '\n';
    EXPECT_EQ(out.str(), expected);
}
#endif  // !defined(_WIN32)

TEST(Dict, MissingKeysAreKeyErrors) {
    mp::Manager manager;
    auto d = manager.dict<std::string, int>({{"a", 1}});
    EXPECT_THROW((void)d.at("zz"), std::out_of_range);
    EXPECT_THROW(d["zz"] += 1, std::out_of_range);
    EXPECT_THROW(d.pop("zz"), std::out_of_range);
    EXPECT_THROW(d.erase("zz"), std::out_of_range);
    EXPECT_EQ(d.popitem(), (std::pair<std::string, int>{"a", 1}));
    EXPECT_THROW(d.popitem(), std::out_of_range);
}

// The seeds' Example 6: Python may lose updates here; mpshm must not.
TEST(List, FiveProcessesIncrementEveryElement) {
    mp::Manager manager;
    auto lst = manager.list<int>({1, 2, 3, 4, 5});
    auto d = manager.dict<std::string, std::int64_t>({{"hits", 0}, {"odd", 0}});
    std::vector<mp::Process> processes;
    for (int i = 0; i < 5; ++i) processes.emplace_back(increment_each, lst);
    for (int i = 0; i < 5; ++i) processes.emplace_back(increment_keys, d);
    for (auto& p : processes) p.start();
    for (auto& p : processes) p.join();
    for (auto& p : processes) EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(printed(lst), "[6, 7, 8, 9, 10]");
    EXPECT_EQ(d.at("hits"), 5000);
    EXPECT_EQ(d.at("odd"), 2500);
}

TEST(Manager, ContainersTravelToSpawnedChildrenAndAttachByName) {
    mp::Manager manager;
    auto lst = manager.list<int>({1, 2});
    mp::Process p({.start_method = mp::StartMethod::spawn}, increment_each, lst);
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(printed(lst), "[2, 3]");
#if !defined(_WIN32)
    const int status = mpshm_test::run_in_child([name = lst.name(), manager_name = manager.name()] {
        auto again = mp::List<int>::attach(name);
        again.append(4);
        auto m = mp::Manager::attach(manager_name);
        auto fresh = m.list<int>({42});
        return fresh.size() == 1 ? 0 : 1;
    });
    EXPECT_EQ(mpshm_test::exit_code(status), 0);
#else  // no fork(): a spawned child given the names does the same
    mp::Process q(attach_by_name_and_append, lst.name(), manager.name());
    q.start();
    q.join();
    EXPECT_EQ(q.exitcode(), 0);
#endif
    EXPECT_EQ(printed(lst), "[2, 3, 4]");
    EXPECT_THROW(mp::List<double>::attach(lst.name()), mp::TypeMismatchError);
    EXPECT_THROW((mp::Dict<int, int>::attach(lst.name())), mp::TypeMismatchError);
    EXPECT_THROW(mp::List<int>::attach(manager.name() + "/c999"), mp::FileNotFoundError);
    EXPECT_THROW(mp::List<int>::attach(manager.name()), std::invalid_argument);
}

TEST(Manager, AFullHeapThrowsMemoryErrorAndChangesNothing) {
    mp::Manager manager({.capacity = 16384});
    auto lst = manager.list<std::string>();
    const std::string chunk(512, 'x');
    std::size_t appended = 0;
    try {
        for (;; ++appended) lst.append(chunk);
    } catch (const mp::MemoryError& e) {
        EXPECT_NE(std::string(e.what()).find(manager.name()), std::string::npos) << e.what();
    }
    ASSERT_GT(appended, 0U);
    EXPECT_EQ(lst.size(), appended) << "the failed append changed the list";
    const std::vector<std::string> big(100, chunk);
    EXPECT_THROW(lst.extend(std::span<const std::string>(big)), mp::MemoryError);
    EXPECT_EQ(lst.size(), appended) << "a failed extend must add nothing";
    auto d = manager.dict<std::string, std::string>();
    while (true) {
        try {
            d.set(std::to_string(d.size()), chunk);
        } catch (const mp::MemoryError&) {
            break;
        }
    }
    const auto before = d.items();
    EXPECT_THROW(d.update({{"new1", chunk}, {"new2", chunk}, {"new3", chunk}}), mp::MemoryError);
    EXPECT_EQ(d.items(), before) << "a failed update must change nothing";
    // A key new to the dict, repeated, in an update that runs out of room:
    // undone without touching what the repeat had replaced.
    EXPECT_THROW(
        d.update({{"twice", chunk}, {"twice", chunk + "!"}, {"more", chunk}, {"and", chunk}}),
        mp::MemoryError);
    EXPECT_EQ(d.items(), before);
    lst.clear();
    EXPECT_NO_THROW(lst.append("room again"));
}

// A copy of manager M's segment, cut or padded to HEAP bytes of heap, whose
// header and state say so: what a process attaching to such a damaged
// segment finds (M's own name would reach this process's mapping of it).
static mp::SharedMemory copy_claiming(const mp::Manager& m, std::uint64_t heap) {
    const mp::SharedMemory original(m.name());
    const std::size_t offset =
        reinterpret_cast<const mp::detail::SegmentHeader*>(original.buf().data())->data_offset;
    mp::SharedMemory copy(
        {.create = true, .size = offset + mp::detail::manager_state_bytes + heap});
    std::memcpy(copy.buf().data(), original.buf().data(), std::min(copy.size(), original.size()));
    auto* header = reinterpret_cast<mp::detail::SegmentHeader*>(copy.buf().data());
    header->count = header->data_bytes = mp::detail::manager_state_bytes + heap;
    header->checksum = header->compute_checksum();
    reinterpret_cast<mp::detail::ManagerState*>(copy.buf().data() + offset)->heap_size = heap;
    return copy;
}

TEST(Manager, AttachRefusesAHeapTooSmallOrOfAnotherSizeThanBoostMadeIt) {
    // Found by fuzzing (tests/fuzz): a header and state agreeing on a heap
    // too small for Boost's own bookkeeping let List::attach read past the
    // segment's end. A heap's size is also checked against Boost's record.
    mp::Manager m(mp::ManagerOptions{.capacity = 8192});
    auto lst = m.list<int>({1, 2, 3});
    const mp::SharedMemory small = copy_claiming(m, 200);
    mpshm_test::expect_error<mp::CorruptSegmentError>(
        [&] { (void)mp::List<int>::attach(small.name() + "/c1"); }, {small.name(), "does not fit"});
    const mp::SharedMemory cut = copy_claiming(m, 4096);  // Boost made 8192
    mpshm_test::expect_error<mp::CorruptSegmentError>(
        [&] { (void)mp::Manager::attach(cut.name()); }, {cut.name(), "record of its size"});
    mp::SharedMemory same = copy_claiming(m, 8192);
    EXPECT_EQ(mp::List<int>::attach(same.name() + "/c1").to_vector(), (std::vector<int>{1, 2, 3}));
    // Boost's bookkeeping zeroed (only its record of the size is checked:
    // see ManagerCore::attach for what no attach can check).
    const std::size_t offset =
        reinterpret_cast<const mp::detail::SegmentHeader*>(same.buf().data())->data_offset;
    std::memset(same.buf().data() + offset + mp::detail::manager_state_bytes, 0, 64);
    mpshm_test::expect_error<mp::CorruptSegmentError>(
        [&] { (void)mp::Manager::attach(same.name()); }, {same.name(), "record of its size"});
}

// POSIX only: fork()ed children killed with SIGKILL.
#if !defined(_WIN32)
TEST(Manager, AProcessKilledHoldingItsLockLeavesOthersWorking) {
    mp::Manager manager;
    auto lst = manager.list<int>({1});
    const ::pid_t holder = mpshm_test::start_child_holding([&] {
        static auto hold = manager.lock();  // kept: the child never returns
    });
    mpshm_test::kill_and_reap(holder);
    lst.append(2);
    EXPECT_EQ(printed(lst), "[1, 2]");
}

// A process killed in the middle of an operation may leave that one
// operation half done (an element moved but not yet removed, say), and may
// have died inside Boost's allocator, whose half-changed free lists no check
// can see. The survivors must keep working: the heap is rebuilt from the
// containers it holds, and data the dead process was not changing is intact.
TEST(Manager, ProcessesKilledInsideAllocationsLeaveOthersWorking) {
    mp::Manager manager({.capacity = 1 << 20});
    auto lst = manager.list<std::string>();
    auto witness = manager.list<std::string>({"untouched", "by", "the", "dead"});
    auto numbers = manager.dict<std::string, std::int64_t>({{"a", 1}});
    const int rounds =
        std::getenv("MPSHM_KILL_ROUNDS") ? std::atoi(std::getenv("MPSHM_KILL_ROUNDS")) : 40;
    mp::RawValue<std::int64_t> steps(0);  // the child's progress, counted under the lock
    for (int round = 0; round < rounds; ++round) {
        const std::int64_t start = steps.load();
        const ::pid_t child = mpshm_test::start_child([&] {
            const std::string text(256, 'y');
            for (int i = 0;; ++i) {  // allocates and frees on every step, under the lock
                const auto hold = manager.lock();
                steps += 1;
                lst.append(text.substr(0, static_cast<std::size_t>(16 + i % 200)));
                while (lst.size() > 50) lst.pop(0);
            }
            return 0;
        });
        // Kill it after a varying number of steps: it is then almost always
        // inside the lock, and often inside an allocation.
        ASSERT_TRUE(mpshm_test::eventually([&] { return steps.load() >= start + 1 + round % 7; }));
        ::kill(child, SIGKILL);
        mpshm_test::wait_child(child);
        ASSERT_NO_THROW(lst.append("survivor")) << "round " << round;
        EXPECT_EQ(lst.pop(), "survivor");
        EXPECT_LE(lst.size(), 60U) << "a dead process leaves at most its own operation half done";
        ASSERT_EQ(witness.to_vector(),
                  (std::vector<std::string>{"untouched", "by", "the", "dead"}));
        numbers["a"] += 1;
        ASSERT_EQ(numbers.at("a"), round + 2);
        auto fresh = manager.list<double>({0.5});
        ASSERT_EQ(fresh.get(0), 0.5);
    }
    // The test proves something only if kills landed inside critical sections.
    const auto recoveries = mp::RLock::attach(manager.name()).recoveries();
    RecordProperty("kills_inside_the_lock", static_cast<int>(recoveries));
    EXPECT_GT(recoveries, static_cast<std::uint32_t>(rounds / 2));
}
#endif  // !defined(_WIN32)
