// Whole-program check of the Win32 robust lock and the cross-process waits,
// run under Wine: the program starts copies of itself (CreateProcessW of its
// own executable) that attach to its objects by name. Exits 0 only when
// every check held; prints each failure.
//   - a child that takes a Lock and exits without releasing it: the next
//     acquire reports the dead owner, and the lock still works; the same for
//     one killed (TerminateProcess) while this process waits;
//   - a Lock held by another process: a timed acquire times out, a longer
//     one succeeds when it is released, with no death reported;
//   - two processes each adding 1 a thousand times under the lock: 2000;
//   - Queue, Event, Semaphore, Barrier and Condition waits woken from the
//     other process, a thousand Queue round trips, and two consumers of one
//     bounded Queue; a Barrier party killed while waiting breaks it;
//   - in one process: a thread that ends holding the lock, Lock re-acquired
//     by its owner (an error), RLock recursion.
// SPDX-License-Identifier: MIT
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <mpshm/array.hpp>
#include <mpshm/lock.hpp>
#include <mpshm/queues.hpp>
#include <mpshm/synchronize.hpp>
#include <mpshm/value.hpp>

namespace mp = mpshm;
using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    std::fflush(stdout);
    if (!ok) ++failures;
}

std::wstring widen(const std::string& s) {
    return {s.begin(), s.end()};  // names and modes are ASCII
}

// Starts this executable again as "<exe> child MODE ARGS...".
HANDLE start_child(const std::string& mode, const std::vector<std::string>& args) {
    std::wstring exe(MAX_PATH, L'\0');
    const DWORD n = ::GetModuleFileNameW(nullptr, exe.data(), static_cast<DWORD>(exe.size()));
    exe.resize(n);
    std::wstring command = L"\"" + exe + L"\" child " + widen(mode);
    for (const auto& a : args) command += L" " + widen(a);
    STARTUPINFOW si{};
    si.cb = sizeof si;
    PROCESS_INFORMATION pi{};
    if (::CreateProcessW(exe.c_str(), command.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr,
                         &si, &pi) == 0) {
        std::printf("FAIL: CreateProcessW: error %lu\n", ::GetLastError());
        std::exit(2);
    }
    ::CloseHandle(pi.hThread);
    return pi.hProcess;
}

// Waits for the child; returns its exit code, or -1 if it did not end.
long finish_child(HANDLE process) {
    long code = -1;
    if (::WaitForSingleObject(process, 60'000) == WAIT_OBJECT_0) {
        DWORD c = 0;
        ::GetExitCodeProcess(process, &c);
        code = static_cast<long>(c);
    } else {
        ::TerminateProcess(process, 99);
    }
    ::CloseHandle(process);
    return code;
}

long long ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 t)
        .count();
}

// ---- the children ---------------------------------------------------------

// Takes the lock and ends the process holding it.
int child_die(char** argv) {
    mp::Lock lock = mp::Lock::attach(argv[0]);
    lock.acquire();
    ::ExitProcess(0);
}

// Makes a Lock, sends its name, and exits once the parent has attached: the
// parent is then the only process that maps it, and has not used it.
int child_make(char** argv) {
    auto names = mp::Queue<std::string>::attach(argv[0]);
    mp::Event attached = mp::Event::attach(argv[1]);
    mp::Lock lock;
    names.put(lock.name());
    return attached.wait(30s) ? 0 : 1;
}

// Waits at a Barrier that will not fill.
int child_barrier(char** argv) {
    auto barrier = mp::Barrier::attach(argv[0]);
    (void)barrier.wait(60s);
    return 1;
}

// Takes the lock and hangs until killed.
int child_hang(char** argv) {
    mp::Lock lock = mp::Lock::attach(argv[0]);
    mp::Event holding = mp::Event::attach(argv[1]);
    lock.acquire();
    holding.set();
    for (;;) ::Sleep(INFINITE);
}

// Holds the lock for 700 ms, then releases it.
int child_hold(char** argv) {
    mp::Lock lock = mp::Lock::attach(argv[0]);
    mp::Event holding = mp::Event::attach(argv[1]);
    lock.acquire();
    holding.set();
    std::this_thread::sleep_for(700ms);
    lock.release();
    return 0;
}

// Adds 1 a thousand times to a Value under the shared Lock, and to one
// under its own RLock (a read and a write under the guard).
int child_count(char** argv) {
    auto v = mp::Value<int, mp::Lock>::attach(argv[0]);
    auto w = mp::Value<int>::attach(argv[1]);
    mp::Event go = mp::Event::attach(argv[2]);
    if (!go.wait(30s)) return 1;
    for (int i = 0; i < 1000; ++i) {
        v += 1;
        auto g = w.lock();
        *g = *g + 1;
    }
    return 0;
}

// Blocks in Queue::get, Semaphore::acquire and Barrier::wait until the
// parent wakes each; reports how long each blocked in BLOCKED[0..2].
int child_wait(char** argv) {
    auto q = mp::Queue<int>::attach(argv[0]);
    mp::Event got = mp::Event::attach(argv[1]);
    auto sem = mp::Semaphore::attach(argv[2]);
    auto barrier = mp::Barrier::attach(argv[3]);
    auto blocked = mp::Array<long long, 3>::attach(argv[4]);
    mp::Event ready = mp::Event::attach(argv[5]);
    ready.set();
    auto t = std::chrono::steady_clock::now();
    const int x = q.get(30s);
    blocked[0] = ms_since(t);
    if (x != 42) return 1;
    got.set();
    t = std::chrono::steady_clock::now();
    if (!sem.acquire(30s)) return 2;
    blocked[1] = ms_since(t);
    t = std::chrono::steady_clock::now();
    (void)barrier.wait(30s);
    blocked[2] = ms_since(t);
    return 0;
}

// Answers each number from the parent with the next, until -1.
int child_ping_pong(char** argv) {
    auto in = mp::Queue<int>::attach(argv[0]);
    auto out = mp::Queue<int>::attach(argv[1]);
    for (;;) {
        const int x = in.get();
        if (x < 0) return 0;
        out.put(x + 1);
    }
}

// Takes items until -1, adding each to SUM and counting them.
int child_consume(char** argv) {
    auto q = mp::Queue<int>::attach(argv[0]);
    auto sum = mp::Value<long long>::attach(argv[1]);
    auto count = mp::Value<int>::attach(argv[2]);
    for (;;) {
        const int x = q.get();
        if (x < 0) return 0;
        sum += x;
        count += 1;
    }
}

// Waits on the Condition until the parent sets the flag.
int child_condition(char** argv) {
    auto cond = mp::Condition<>::attach(argv[0]);
    auto flag = mp::RawValue<int>::attach(argv[1]);
    mp::Event waiting = mp::Event::attach(argv[2]);
    const std::lock_guard hold(cond);
    waiting.set();
    return cond.wait_for([&] { return flag.load() == 1; }, 30s) ? 0 : 1;
}

int run_child(const std::string& mode, char** argv) {
    try {
        if (mode == "die") return child_die(argv);
        if (mode == "hold") return child_hold(argv);
        if (mode == "hang") return child_hang(argv);
        if (mode == "make") return child_make(argv);
        if (mode == "barrier") return child_barrier(argv);
        if (mode == "count") return child_count(argv);
        if (mode == "wait") return child_wait(argv);
        if (mode == "pingpong") return child_ping_pong(argv);
        if (mode == "condition") return child_condition(argv);
        if (mode == "consume") return child_consume(argv);
    } catch (const std::exception& e) {
        std::printf("child %s: %s\n", mode.c_str(), e.what());
        return 3;
    }
    return 4;
}

// ---- the parent -----------------------------------------------------------

void dead_owner_process() {
    mp::Lock lock;
    const long code = finish_child(start_child("die", {lock.name()}));
    check(code == 0, "a child took the Lock and exited holding it");
    const bool got = lock.acquire(10s);
    check(got, "the Lock a dead process held is acquired");
    check(lock.previous_owner_died(), "... and the acquire reports its owner died");
    check(lock.recoveries() == 1, "... and recoveries() is 1");
    if (got) lock.release();
    check(lock.acquire(1s) && !lock.previous_owner_died(),
          "the recovered Lock works: acquired again, no death reported");
    lock.release();
}

// As examples/09 on POSIX with SIGKILL: the owner is killed (TerminateProcess)
// while this process waits for the lock.
void killed_owner_process() {
    mp::Lock lock;
    mp::Event holding;
    HANDLE child = start_child("hang", {lock.name(), holding.name()});
    check(holding.wait(30s), "a child holds the Lock and hangs");
    std::thread killer([child] {
        std::this_thread::sleep_for(300ms);
        ::TerminateProcess(child, 9);
    });
    const auto t = std::chrono::steady_clock::now();
    const bool got = lock.acquire(10s);
    const long long waited = ms_since(t);
    killer.join();
    check(got && lock.previous_owner_died(),
          "a waiter blocked on a Lock whose owner is killed gets it, and is told");
    check(waited >= 250, "... having waited until the kill");
    if (got) lock.release();
    check(finish_child(child) == 9, "the killed child's exit code is TerminateProcess's");
}

// A holder that dies when no other process has the kernel mutex open takes
// the kernel mutex with it; the owner word still tells its death.
void dead_owner_of_a_forgotten_mutex() {
    mp::Queue<std::string> names;
    mp::Event attached;
    HANDLE maker = start_child("make", {names.name(), attached.name()});
    const std::string name = names.get(30s);
    mp::Lock lock = mp::Lock::attach(name);
    attached.set();
    check(finish_child(maker) == 0, "a child made a Lock and exited, this process attached");
    check(finish_child(start_child("die", {name})) == 0,
          "another child took that Lock and exited holding it");
    check(lock.acquire(10s) && lock.previous_owner_died(),
          "... the next acquire reports the dead owner, though its kernel mutex went");
    lock.release();
    check(lock.acquire(1s) && !lock.previous_owner_died(), "... and the Lock works on");
    lock.release();
}

void held_by_another_process() {
    mp::Lock lock;
    mp::Event holding;
    HANDLE child = start_child("hold", {lock.name(), holding.name()});
    check(holding.wait(30s), "an Event set by another process wakes its waiter");
    const auto t = std::chrono::steady_clock::now();
    check(!lock.acquire(100ms), "a Lock held by another process: a 100 ms acquire times out");
    check(ms_since(t) >= 90, "... after about 100 ms");
    check(!lock.acquire(false), "... and a non-blocking acquire fails");
    check(lock.acquire(10s) && !lock.previous_owner_died(),
          "... and a longer acquire gets it when released, no death reported");
    lock.release();
    check(finish_child(child) == 0, "the holding child exited 0");
}

void counting() {
    mp::Lock lock;
    mp::Value<int, mp::Lock> v(0, lock);
    mp::Value<int> w(0);
    mp::Event go;
    HANDLE child = start_child("count", {v.name(), w.name(), go.name()});
    go.set();
    for (int i = 0; i < 1000; ++i) {
        v += 1;
        auto g = w.lock();
        *g = *g + 1;
    }
    check(finish_child(child) == 0, "the counting child exited 0");
    check(v.load() == 2000, "two processes x 1000 `v += 1` under a shared Lock give 2000");
    check(w.load() == 2000, "two processes x 1000 increments under a Value's RLock give 2000");
    if (v.load() != 2000 || w.load() != 2000)
        std::printf("      v = %d, w = %d\n", v.load(), w.load());
}

void waits() {
    mp::Queue<int> q;
    mp::Event got;
    mp::Semaphore sem(0);
    mp::Barrier barrier(2);
    mp::Array<long long, 3> blocked;
    mp::Event ready;
    HANDLE child = start_child(
        "wait", {q.name(), got.name(), sem.name(), barrier.name(), blocked.name(), ready.name()});
    check(ready.wait(30s), "the waiting child started");
    std::this_thread::sleep_for(300ms);
    q.put(42);
    check(got.wait(30s), "Queue::get in another process woken by put (it then set an Event)");
    std::this_thread::sleep_for(300ms);
    sem.release();
    std::this_thread::sleep_for(300ms);
    bool barrier_ok = true;
    try {
        (void)barrier.wait(30s);
    } catch (const mp::BrokenBarrierError&) {
        barrier_ok = false;
    }
    check(barrier_ok, "a Barrier of two parties in two processes");
    check(finish_child(child) == 0, "the waiting child exited 0");
    const long long b0 = blocked[0];
    const long long b1 = blocked[1];
    const long long b2 = blocked[2];
    std::printf("      the child blocked %lld, %lld and %lld ms\n", b0, b1, b2);
    check(b0 >= 200, "... Queue::get blocked until the put");
    check(b1 >= 200, "... Semaphore::acquire blocked until the release");
    check(b2 >= 200, "... Barrier::wait blocked until the parent arrived");
    mp::Event never;
    const auto t = std::chrono::steady_clock::now();
    check(!never.wait(100ms) && ms_since(t) >= 90, "Event::wait times out after about 100 ms");
}

// A thousand round trips through two Queues, each get() blocking without a
// timeout: a lost wakeup would hang it (the child is given 60 s).
void ping_pong() {
    mp::Queue<int> to_child;
    mp::Queue<int> to_parent;
    HANDLE child = start_child("pingpong", {to_child.name(), to_parent.name()});
    const auto t = std::chrono::steady_clock::now();
    bool in_order = true;
    for (int i = 0; i < 1000; ++i) {
        to_child.put(i);
        if (to_parent.get() != i + 1) in_order = false;
    }
    to_child.put(-1);
    const long long took = ms_since(t);
    check(finish_child(child) == 0, "the ping-pong child exited 0");
    check(in_order, "1000 Queue round trips between two processes, each answer right");
    std::printf("      1000 round trips took %lld ms\n", took);
}

// A party killed while it waits breaks the Barrier for the others.
void barrier_party_killed() {
    mp::Barrier barrier(3);
    HANDLE child = start_child("barrier", {barrier.name()});
    const auto t = std::chrono::steady_clock::now();
    while (barrier.n_waiting() == 0 && ms_since(t) < 30'000) std::this_thread::sleep_for(10ms);
    check(barrier.n_waiting() == 1, "a child waits at a Barrier of three");
    ::TerminateProcess(child, 9);
    (void)finish_child(child);
    const auto t2 = std::chrono::steady_clock::now();
    bool broken = false;
    try {
        (void)barrier.wait(10s);
    } catch (const mp::BrokenBarrierError&) {
        broken = true;
    }
    check(broken && ms_since(t2) < 5000, "... killed there, it breaks the Barrier at once");
}

// Two consumer processes block on one small Queue (maxsize 4: the producer
// blocks too) while this one puts 1..2000: every item arrives exactly once.
void consumers() {
    mp::Queue<int> q(4);
    mp::Value<long long> sum(0);
    mp::Value<int> count(0);
    HANDLE a = start_child("consume", {q.name(), sum.name(), count.name()});
    HANDLE b = start_child("consume", {q.name(), sum.name(), count.name()});
    for (int i = 1; i <= 2000; ++i) q.put(i);
    q.put(-1);
    q.put(-1);
    const long ca = finish_child(a);
    const long cb = finish_child(b);
    check(ca == 0 && cb == 0, "two consumer processes exited 0");
    check(count.load() == 2000 && sum.load() == 2000LL * 2001 / 2,
          "two consumers of one bounded Queue got each of 2000 items once");
}

// Condition::wait in another process, woken by notify() under the lock.
void condition() {
    mp::Condition<> cond;
    mp::RawValue<int> flag(0);
    mp::Event waiting;
    HANDLE child = start_child("condition", {cond.name(), flag.name(), waiting.name()});
    check(waiting.wait(30s), "the Condition child is about to wait");
    std::this_thread::sleep_for(200ms);
    {
        const std::lock_guard hold(cond);
        flag.store(1);
        cond.notify();
    }
    check(finish_child(child) == 0, "Condition::wait in another process woken by notify()");
}

void in_one_process() {
    mp::Lock lock;
    std::thread([&] { lock.acquire(); }).join();  // ends holding it
    check(lock.acquire(5s) && lock.previous_owner_died(),
          "a thread that ended holding the Lock: the next acquire reports it");
    bool threw = false;
    try {
        lock.acquire();
    } catch (const mp::Error&) {
        threw = true;
    }
    check(threw, "a Lock re-acquired by its owner is an error, not a deadlock");
    check(!lock.acquire(false), "... and a non-blocking re-acquire returns false");
    lock.release();
    bool release_threw = false;
    try {
        lock.release();
    } catch (const std::invalid_argument&) {
        release_threw = true;
    }
    check(release_threw, "releasing a Lock not held is an error");

    mp::RLock rlock;
    check(rlock.acquire() && rlock.acquire() && rlock.depth() == 2,
          "an RLock is re-acquired by its owner (depth 2)");
    bool other_got = true;
    std::thread([&] { other_got = rlock.acquire(false); }).join();
    check(!other_got, "... and another thread cannot take it");
    rlock.release();
    rlock.release();
    std::thread([&] {
        other_got = rlock.acquire(false);
        if (other_got) rlock.release();
    }).join();
    check(other_got, "... until it is released as often");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 3 && std::string(argv[1]) == "child") return run_child(argv[2], argv + 3);
    try {
        in_one_process();
        dead_owner_process();
        killed_owner_process();
        dead_owner_of_a_forgotten_mutex();
        held_by_another_process();
        counting();
        waits();
        ping_pong();
        consumers();
        barrier_party_killed();
        condition();
    } catch (const std::exception& e) {
        std::printf("FAIL: exception: %s\n", e.what());
        return 1;
    }
    if (failures != 0) {
        std::printf("%d check(s) failed\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
