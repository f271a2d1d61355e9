// mpshm::Process on Windows (run under Wine in CI): spawn is the only start
// method there, as in Python. Checks arguments of every kind reaching a
// spawned child, exit codes (Python's -SIGTERM after terminate()),
// is_alive, timed joins, the sentinel, names and parents through a
// grandchild, the child's standard output, and fork refused as Python
// refuses it. Exits 0 only when every check held.
// SPDX-License-Identifier: MIT
#include <fcntl.h>
#include <io.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include <mpshm/process.hpp>
#include <mpshm/shareable_list.hpp>
#include <mpshm/shared_memory.hpp>

namespace mp = mpshm;
using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::cout << (ok ? "ok:     " : "FAILED: ") << what << '\n' << std::flush;
    if (!ok) ++failures;
}

// A string a command line would need quoting for: spaces, quotes, backslashes.
const std::string tricky = R"(a "quoted" word,  two spaces, back\slash\" and a trailing \)";

// This program's arguments as one string: a spawned child must see the same.
std::string own_arguments() {
    std::string all;
    for (int i = 0; i < __argc; ++i) {
        if (i != 0) all += '\x1f';
        all += __argv[i];
    }
    return all;
}

void put(mp::SharedMemory& shm, std::size_t at, const std::string& text) {
    std::memcpy(shm.buf().data() + at, text.c_str(), text.size() + 1);
}
std::string get(const mp::SharedMemory& shm, std::size_t at) {
    return reinterpret_cast<const char*>(shm.buf().data() + at);
}

// The child: what it received, who it is, who its parent is.
void report(int number, std::string text, mp::SharedMemory& shm, std::string list_name) {
    mp::ShareableList list(list_name);
    const auto parent = mp::parent_process();
    put(shm, 0, std::to_string(number) + "|" + text);
    put(shm, 256,
        mp::current_process().name() + "|" +
            (parent ? parent->name() + "|" + std::to_string(parent->pid()) + "|" +
                          (parent->is_alive() ? "alive" : "gone")
                    : std::string("orphan")));
    put(shm, 512, own_arguments());
    list[0] = std::get<std::int64_t>(std::as_const(list)[0]) * 2;
    list[1] = std::string("set by the child");
}

// Whether HANDLE (a value from the parent) names a handle in this child.
void probe_handle(std::int64_t handle, mp::SharedMemory& shm) {
    DWORD flags = 0;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): a handle value from the parent
    const bool valid = ::GetHandleInformation(reinterpret_cast<HANDLE>(handle), &flags) != 0;
    put(shm, 0, valid ? "inherited" : "not inherited");
}

void exit_with(int code) {
    std::exit(code);
}
void throw_error() {
    throw std::runtime_error("boom from the child");
}
void sleep_long() {
    std::this_thread::sleep_for(60s);
}
void succeed() {}

void print_something() {
    std::cout << "child cout, ";
    std::printf("child printf");
}

void write_lineage(mp::SharedMemory& shm, int slot) {
    const auto parent = mp::parent_process();
    put(shm, static_cast<std::size_t>(slot) * 128,
        mp::current_process().name() + "|" + (parent ? parent->name() : std::string("orphan")));
}

void start_grandchild(mp::SharedMemory& shm) {
    write_lineage(shm, 0);
    mp::Process grandchild(write_lineage, shm, 1);
    grandchild.start();
    grandchild.join();
    if (grandchild.exitcode() != 0) std::exit(3);
}

std::string repr(const mp::Process& p) {
    std::ostringstream os;
    os << p;
    return os.str();
}

template <typename F>
bool throws_invalid_argument(F&& f, const std::string& message) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return std::string(e.what()).find(message) != std::string::npos;
    } catch (...) {
    }
    return false;
}

}  // namespace

int main() {
    mp::freeze_support();

    // Spawn is the default and only start method; fork is Python's ValueError.
    check(mp::get_start_method() == mp::StartMethod::spawn, "get_start_method() is spawn");
    const std::string no_fork = "cannot find context for 'fork'";
    check(throws_invalid_argument([] { (void)mp::get_context(mp::StartMethod::fork); }, no_fork),
          "get_context(fork) throws std::invalid_argument");
    check(
        throws_invalid_argument([] { mp::set_start_method(mp::StartMethod::fork, true); }, no_fork),
        "set_start_method(fork) throws std::invalid_argument");
    check(throws_invalid_argument(
              [] { mp::Process p({.start_method = mp::StartMethod::fork}, succeed); }, no_fork),
          "Process with start_method fork throws std::invalid_argument");
    check(mp::cpu_count() >= 1, "cpu_count() >= 1");
    check(mp::current_process().name() == "MainProcess", "current_process() is MainProcess");
    check(!mp::parent_process().has_value(), "the main process has no parent");

    // Arguments: an int, a string that needs quoting, a SharedMemory, and a
    // ShareableList's name, all reaching the child.
    {
        mp::SharedMemory shm({.create = true, .size = 4096});
        mp::ShareableList list({std::int64_t{21}, std::string(32, ' ')});
        mp::Process p(report, 42, tricky, shm, list.name());
        check(!p.is_alive(), "is_alive() is false before start()");
        check(!p.exitcode().has_value(), "no exitcode before start()");
        p.start();
        p.join();
        check(p.exitcode() == 0, "exitcode is 0 after a target that returns");
        check(!p.is_alive(), "is_alive() is false after join()");
        check(get(shm, 0) == "42|" + tricky, "int and quoted string arrive: " + get(shm, 0));
        check(get(shm, 256) == p.name() + "|MainProcess|" +
                                   std::to_string(mp::current_process().pid()) + "|alive",
              "the child's name and parent: " + get(shm, 256));
        check(get(shm, 512) == own_arguments(), "the child runs with its parent's arguments");
        check(std::get<std::int64_t>(std::as_const(list)[0]) == 42 &&
                  std::get<std::string>(std::as_const(list)[1]) == "set by the child",
              "a ShareableList attached by name in the child is shared");
        check(p.pid() > 0 && p.pid() != mp::current_process().pid(), "pid() is the child's");
        check(repr(p).find("stopped exitcode=0") != std::string::npos, "repr: " + repr(p));
    }

    // The child inherits its standard handles and nothing else, even a
    // handle made inheritable (as the C runtime makes the files it opens).
    {
        SECURITY_ATTRIBUTES inheritable{sizeof inheritable, nullptr, TRUE};
        const HANDLE event = ::CreateEventW(&inheritable, TRUE, FALSE, nullptr);
        mp::SharedMemory shm({.create = true, .size = 64});
        mp::Process p(probe_handle,
                      static_cast<std::int64_t>(reinterpret_cast<std::intptr_t>(event)), shm);
        p.start();
        p.join();
        ::CloseHandle(event);
        check(p.exitcode() == 0 && get(shm, 0) == "not inherited",
              "an inheritable handle of the parent's is not inherited: " + get(shm, 0));
    }

    // Exit codes: std::exit(N) gives N, an exception 1.
    {
        mp::Process p(exit_with, 7);
        p.start();
        p.join();
        check(p.exitcode() == 7, "exitcode is 7 after std::exit(7)");
        mp::Process q(throw_error);
        q.start();
        q.join();
        check(q.exitcode() == 1, "exitcode is 1 after an exception (its report is on stderr)");
    }

    // terminate() and kill() of a sleeping child, a timed join, the sentinel.
    {
        mp::Process p(sleep_long);
        p.start();
        check(p.is_alive(), "is_alive() is true while the child sleeps");
        const auto before = std::chrono::steady_clock::now();
        const bool ended = p.join(200ms);
        const auto waited = std::chrono::steady_clock::now() - before;
        check(!ended && waited >= 190ms && waited < 10s, "join(200ms) waits and returns false");
        check(!p.exitcode().has_value(), "no exitcode while it runs");
        p.terminate();
        check(p.join(30s), "join(timeout) returns true once the child has ended");
        check(p.exitcode() == -SIGTERM, "exitcode is -SIGTERM after terminate(): " +
                                            std::to_string(p.exitcode().value_or(0)));
        check(!p.is_alive(), "is_alive() is false after terminate()");
        check(repr(p).find("stopped exitcode=-SIGTERM") != std::string::npos, "repr: " + repr(p));
        p.terminate();  // ended already: nothing happens

        mp::Process k(sleep_long);
        k.start();
        k.kill();
        k.join();
        check(k.exitcode() == -SIGTERM, "kill() is terminate() on Windows, as in Python");

        mp::Process s(succeed);
        s.start();
        check(::WaitForSingleObject(s.sentinel(), 30'000) == WAIT_OBJECT_0,
              "the sentinel is signalled when the child ends");
        check(s.exitcode() == 0, "exitcode after the sentinel");
        s.close();
        check(throws_invalid_argument([&s] { (void)s.is_alive(); }, "closed"),
              "a closed Process refuses is_alive()");
    }

    // A child's child: names and parents, as in Python.
    {
        mp::SharedMemory shm({.create = true, .size = 256});
        mp::Process p(start_grandchild, shm);
        p.start();
        p.join();
        check(p.exitcode() == 0, "a child starts a grandchild");
        check(get(shm, 0) == p.name() + "|MainProcess", "child lineage: " + get(shm, 0));
        check(get(shm, 128) == p.name() + ":1|" + p.name(), "grandchild lineage: " + get(shm, 128));
    }

    // The child writes to its parent's standard output, here a file, after
    // what the parent had buffered (flushed before the spawn), and once.
    {
        char path[MAX_PATH];
        char dir[MAX_PATH];
        ::GetTempPathA(MAX_PATH, dir);
        ::GetTempFileNameA(dir, "mps", 0, path);
        std::fflush(stdout);
        const int saved = ::_dup(1);
        const int file = ::_open(path, _O_WRONLY | _O_TRUNC | _O_BINARY);
        ::_dup2(file, 1);  // the C runtime points STD_OUTPUT_HANDLE there too
        ::_close(file);
        std::cout << "parent, ";  // buffered
        mp::Process p(print_something);
        p.start();
        p.join();
        std::fflush(stdout);
        ::_dup2(saved, 1);
        ::_close(saved);
        std::ifstream in(path, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
        in.close();
        ::DeleteFileA(path);
        check(p.exitcode() == 0, "a child that prints ends with 0");
        check(text == "parent, child cout, child printf",
              "the child's output follows the parent's, once: \"" + text + "\"");
        mp::Process visible(print_something);
        visible.start();
        visible.join();
        std::cout << "  <- the child printed that on this program's own standard output\n";
    }

    std::cout << (failures == 0 ? "all checks passed\n" : "some checks FAILED\n");
    return failures == 0 ? 0 : 1;
}
