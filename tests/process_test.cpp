// Tests for mpshm/process.hpp: Process under fork and spawn, with real
// children, real signals and real exit codes.
// SPDX-License-Identifier: MIT
#if defined(_WIN32)
#include <io.h>  // dup, dup2, close, unlink
#else
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <new>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;

namespace {

// Set by the test before starting a child: a fork()ed child sees it, a
// spawned child (a fresh run of this program) does not.
int g_marker = 0;

// What exitcode() reads after kill(): -SIGKILL on POSIX; on Windows kill()
// is terminate() (TerminateProcess), as in Python, so -SIGTERM.
#if defined(_WIN32)
constexpr int killed_exitcode = -SIGTERM;
#else
constexpr int killed_exitcode = -SIGKILL;
#endif

// This process's id, as the system knows it.
std::int64_t own_pid() {
#if defined(_WIN32)
    return static_cast<std::int64_t>(::GetCurrentProcessId());
#else
    return ::getpid();
#endif
}

void increment_all(mp::Value<int>& v, mp::Array<int, 10>& a) {
    v += 1;
    for (std::ptrdiff_t i = 0; i < 10; ++i) a[i] += static_cast<int>(i);
}

void report_image(mp::Value<int>& marker, mp::Value<std::int64_t>& parent_pid,
                  mp::SharedMemory& shm, std::string text, int number) {
    marker.store(g_marker);
    parent_pid.store(mp::parent_process() ? mp::parent_process()->pid() : -1);
    const std::string name = mp::current_process().name();
    const std::string line = name + "|" + text + "|" + std::to_string(number);
    std::copy(line.begin(), line.end(), reinterpret_cast<char*>(shm.buf().data()));
}

// POSIX only: for the test of a name unlinked before start().
#if !defined(_WIN32)
void write_marker(mp::SharedMemory& shm) {
    std::memcpy(shm.buf().data(), "child", 5);
}
#endif

void succeed() {}
void fail_with_exception() {
    throw std::runtime_error("boom from the child");
}
void sleep_forever() {
#if defined(_WIN32)
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
#else
    for (;;) ::pause();
#endif
}

void try_to_start_a_child(mp::Value<int>& refused) {
    try {
        mp::Process p(succeed);
        p.start();
        p.join();
    } catch (const std::logic_error&) {
        refused.store(1);
    }
}

// Writes where a child inherits them: its name and its parent's, or
// "orphan", at slot SLOT of SHM.
void write_lineage(mp::SharedMemory& shm, int slot) {
    const auto parent = mp::parent_process();
    const std::string line =
        mp::current_process().name() + "|" + (parent ? parent->name() : std::string("orphan"));
    std::memcpy(shm.buf().data() + static_cast<std::ptrdiff_t>(slot) * 128, line.c_str(),
                line.size() + 1);
}

// A child that starts two grandchildren, one named at length.
void start_grandchildren(mp::SharedMemory& shm, mp::StartMethod method) {
    write_lineage(shm, 0);
    mp::Process first({.start_method = method}, write_lineage, shm, 1);
    mp::Process second({.name = "a grandchild whose name is long", .start_method = method},
                       write_lineage, shm, 2);
    first.start();
    second.start();
    first.join();
    second.join();
    if (first.exitcode() != 0 || second.exitcode() != 0) throw std::runtime_error("grandchild");
    write_lineage(shm, 3);
}

void print_without_newline() {
    std::cout << "child cout, ";
    std::printf("child printf");
}

// Sends std::cout to a file buffer of its own, never closed.
void print_to_a_filebuf(std::string path) {
    alignas(std::filebuf) static unsigned char storage[sizeof(std::filebuf)];
    auto* buf = new (storage) std::filebuf;
    if (buf->open(path, std::ios::out | std::ios::trunc) == nullptr) throw std::runtime_error(path);
    std::cout.rdbuf(buf);
    std::cout << "through a filebuf";
}

// Captures what children write to STREAM (standard error unless told) while
// it lives.
class OutputCapture {
  public:
    explicit OutputCapture(std::FILE* stream = stderr) : stream_(stream), fd_(::fileno(stream)) {
        std::fflush(stream_);
        saved_ = ::dup(fd_);
        file_ = std::tmpfile();
        ::dup2(::fileno(file_), fd_);
    }
    OutputCapture(const OutputCapture&) = delete;
    OutputCapture& operator=(const OutputCapture&) = delete;
    ~OutputCapture() {
        restore();
        std::fclose(file_);
    }
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buf[4096];
        std::size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof buf, file_)) > 0) out.append(buf, n);
        return out;
    }

  private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stream_);
        ::dup2(saved_, fd_);
        ::close(saved_);
        saved_ = -1;
    }
    std::FILE* stream_;
    int fd_;
    int saved_ = -1;
    std::FILE* file_ = nullptr;
};

// Waits up to 20 s for P's child to end, through its sentinel (a pidfd on
// Linux, the process HANDLE on Windows), without reaping it.
bool sentinel_signalled(mp::Process& p) {
#if defined(_WIN32)
    return ::WaitForSingleObject(p.sentinel(), 20'000) == WAIT_OBJECT_0;
#else
    pollfd fd{p.sentinel(), POLLIN, 0};
    return ::poll(&fd, 1, 20'000) == 1;
#endif
}

// POSIX only: zombies, reaped by waitpid().
#if !defined(_WIN32)
bool reaped_already(std::int64_t pid) {
    int status = 0;
    return ::waitpid(static_cast<::pid_t>(pid), &status, WNOHANG) < 0 && errno == ECHILD;
}
#endif

std::string method_name(const testing::TestParamInfo<mp::StartMethod>& info) {
    return std::string(mp::to_string(info.param));
}

class ProcessTest : public testing::TestWithParam<mp::StartMethod> {
  protected:
    mp::ProcessOptions options() const { return {.start_method = GetParam()}; }
};

}  // namespace

TEST_P(ProcessTest, ChildrenModifyAValueAndAnArray) {
    mp::Value<int> v(0);
    mp::Array<int, 10> a;
    mp::Process p(options(), increment_all, v, a);
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(v.load(), 1);
    EXPECT_EQ(a.to_vector(), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_P(ProcessTest, ChildGetsSharedObjectsValuesAndStrings) {
    g_marker = 42;
    mp::Value<int> marker(-1);
    mp::Value<std::int64_t> parent_pid(0);
    mp::SharedMemory shm({.create = true, .size = 128});
    mp::Process p(options(), report_image, marker, parent_pid, shm, "text travels", 7);
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0);
    // A fork()ed child is a copy of this process; a spawned one is a fresh
    // run of the program, which never saw g_marker set and had to attach to
    // every shared argument by name.
    EXPECT_EQ(marker.load(), GetParam() == mp::StartMethod::fork ? 42 : 0);
    EXPECT_EQ(parent_pid.load(), own_pid());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data())),
              p.name() + "|text travels|7");
    g_marker = 0;
}

TEST_P(ProcessTest, ExitCodeIsZeroAfterSuccessAndOneAfterAnException) {
    mp::Process ok(options(), succeed);
    EXPECT_EQ(ok.exitcode(), std::nullopt);
    ok.start();
    ok.join();
    EXPECT_EQ(ok.exitcode(), 0);

    OutputCapture capture;
    mp::Process failing(options(), fail_with_exception);
    failing.start();
    failing.join();
    const std::string err = capture.text();
    EXPECT_EQ(failing.exitcode(), 1);
    EXPECT_NE(err.find("Process " + failing.name() + ":"), std::string::npos) << err;
    EXPECT_NE(err.find("std::runtime_error: boom from the child"), std::string::npos) << err;
}

TEST_P(ProcessTest, ChildrenAndGrandchildrenKnowTheirNamesAndParents) {
    mp::SharedMemory shm({.create = true, .size = 512});
    mp::Process p(options(), start_grandchildren, shm, GetParam());
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0);
    const auto slot = [&shm](int i) {
        return std::string(reinterpret_cast<const char*>(shm.buf().data()) + i * 128);
    };
    EXPECT_EQ(slot(0), p.name() + "|MainProcess");
    EXPECT_EQ(slot(1), p.name() + ":1|" + p.name());
    EXPECT_EQ(slot(2), "a grandchild whose name is long|" + p.name());
    EXPECT_EQ(slot(3), slot(0));
    EXPECT_EQ(mp::current_process().name(), "MainProcess");
    EXPECT_FALSE(mp::parent_process().has_value());
}

TEST_P(ProcessTest, ChildOutputIsFlushedOnceBeforeTheChildEnds) {
    OutputCapture capture(stdout);
    std::cout << "parent, ";  // buffered: the child must not print it again
    mp::Process p(options(), print_without_newline);
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(capture.text(), "parent, child cout, child printf");
}

TEST_P(ProcessTest, ChildFlushesAStreamBufferOfItsOwn) {
#if defined(_WIN32)  // no /tmp: the user's temporary folder
    std::string path_template =
        (std::filesystem::temp_directory_path() / "mpshm-process-test-XXXXXX").string();
    char* path = path_template.data();
#else
    char path[] = "/tmp/mpshm-process-test-XXXXXX";
#endif
    const int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    ::close(fd);
    mp::Process p(options(), print_to_a_filebuf, std::string(path));
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::unlink(path);
    EXPECT_EQ(text, "through a filebuf");
}

TEST_P(ProcessTest, TerminateAndKillASleepingChild) {
    mp::Process terminated(options(), sleep_forever);
    terminated.start();
    EXPECT_TRUE(terminated.is_alive());
    terminated.terminate();
    terminated.join();
    EXPECT_EQ(terminated.exitcode(), -SIGTERM);
    EXPECT_FALSE(terminated.is_alive());
    std::ostringstream repr;
    repr << terminated;
    EXPECT_NE(repr.str().find("stopped exitcode=-SIGTERM"), std::string::npos) << repr.str();

    mp::Process killed(options(), sleep_forever);
    killed.start();
    killed.kill();
    killed.join();
    EXPECT_EQ(killed.exitcode(), killed_exitcode);
}

TEST_P(ProcessTest, TimedJoinReturnsWhileTheChildRuns) {
    mp::Process p(options(), sleep_forever);
    p.start();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(p.join(100ms));
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 95ms);
    EXPECT_LT(waited, 5s);
    EXPECT_TRUE(p.is_alive());
    EXPECT_EQ(p.exitcode(), std::nullopt);
    p.kill();
    EXPECT_TRUE(p.join(10s));
    EXPECT_EQ(p.exitcode(), killed_exitcode);
}

TEST_P(ProcessTest, StartingTwiceFails) {
    mp::Process p(options(), succeed);
    p.start();
    EXPECT_THROW(p.start(), std::logic_error);
    p.join();
    EXPECT_THROW(p.start(), std::logic_error);
}

// POSIX only: a fork()ed intermediate parent, watched through a pipe.
#if !defined(_WIN32)
TEST_P(ProcessTest, DaemonicChildrenAreTerminatedWhenTheParentExits) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);  // not close-on-exec: a spawned daemon inherits it too
    const auto method = GetParam();
    // An intermediate parent starts a daemon that sleeps forever holding the
    // pipe's write end, then exits normally (std::exit, so its exit handler
    // runs). The read end sees end-of-file once every writer is gone.
    const ::pid_t parent = mpshm_test::start_child([&] {
        mp::Process daemon({.daemon = true, .start_method = method}, sleep_forever);
        daemon.start();
        ::close(fds[1]);
        // Never destroyed, so only the exit handler can end the daemon; kept
        // in static storage so that LeakSanitizer sees it as reachable.
        alignas(mp::Process) static unsigned char storage[sizeof(mp::Process)];
        new (storage) mp::Process(std::move(daemon));
        std::exit(0);
        return 0;  // not reached
    });
    ::close(fds[1]);
    pollfd p{fds[0], POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 20'000), 1) << "the daemon outlived its parent";
    char c = 0;
    EXPECT_EQ(::read(fds[0], &c, 1), 0);
    ::close(fds[0]);
    EXPECT_EQ(mpshm_test::exit_code(mpshm_test::wait_child(parent)), 0);
}
#endif  // !defined(_WIN32)

TEST_P(ProcessTest, DaemonicProcessesCannotStartChildren) {
    mp::Value<int> refused(0);
    mp::Process p({.daemon = true, .start_method = GetParam()}, try_to_start_a_child, refused);
    EXPECT_TRUE(p.daemon());
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(refused.load(), 1);
    EXPECT_THROW(p.daemon(false), std::logic_error) << "daemon is set before start";
}

TEST_P(ProcessTest, ActiveChildrenListsTheRunningAndReapsTheRest) {
    mp::Process sleeper(options(), sleep_forever);
    mp::Process quick(options(), succeed);
    sleeper.start();
    quick.start();
    // Wait for the quick child's end through its sentinel, without reaping.
    ASSERT_TRUE(sentinel_signalled(quick));
    const auto active = mp::active_children();
    EXPECT_EQ(active, std::vector<mp::Process*>{&sleeper});
    EXPECT_EQ(quick.exitcode(), 0);
#if !defined(_WIN32)  // zombies are POSIX's
    EXPECT_TRUE(reaped_already(quick.pid())) << "active_children() reaps finished children";
#endif
    sleeper.kill();
    sleeper.join();
    EXPECT_TRUE(mp::active_children().empty());
#if !defined(_WIN32)
    EXPECT_TRUE(reaped_already(sleeper.pid()));
#endif
}

// POSIX only: zombies, reaped by waitpid().
#if !defined(_WIN32)
TEST_P(ProcessTest, DestroyingAProcessLeavesNoZombie) {
    std::int64_t pid = 0;
    {
        mp::Process p(options(), succeed);
        p.start();
        pid = p.pid();
    }
    EXPECT_TRUE(reaped_already(pid));
}
#endif  // !defined(_WIN32)

TEST_P(ProcessTest, NamesFollowPython) {
    mp::Process first(options(), succeed);
    mp::Process second(options(), succeed);
    const auto number = [](const std::string& name) {
        return std::stoi(name.substr(name.find('-') + 1));
    };
    EXPECT_EQ(first.name().rfind("Process-", 0), 0U);
    EXPECT_EQ(number(second.name()), number(first.name()) + 1);
    mp::Process named({.name = "worker", .start_method = GetParam()}, succeed);
    EXPECT_EQ(named.name(), "worker");
    named.name("renamed");
    EXPECT_EQ(named.name(), "renamed");
    EXPECT_EQ(mp::current_process().name(), "MainProcess");
    EXPECT_EQ(mp::current_process().pid(), own_pid());
    EXPECT_THROW((void)named.pid(), std::logic_error) << "no pid before start()";
    EXPECT_FALSE(mp::parent_process().has_value());
    std::ostringstream repr;
    repr << named;
    EXPECT_EQ(repr.str(), "<Process name='renamed' initial>");
}

TEST_P(ProcessTest, CloseRefusesARunningChildAndEndsTheObject) {
    mp::Process p(options(), sleep_forever);
    p.start();
    EXPECT_THROW(p.close(), std::invalid_argument);
    p.kill();
    p.join();
    p.close();
    p.close();
    EXPECT_THROW((void)p.is_alive(), std::invalid_argument);
    EXPECT_THROW(p.join(), std::invalid_argument);
}

TEST_P(ProcessTest, ALambdaWithoutCapturesIsATarget) {
    mp::Value<int> v(1);
    mp::Process p(
        options(), [](mp::Value<int>& x, int by) { x *= by; }, v, 6);
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(v.load(), 6);
}

TEST_P(ProcessTest, ALambdaWithCapturesServesForkOnly) {
    mp::Value<int> v(1);
    int factor = 7;
    mp::Process p(options(), [&v, factor] { v *= factor; });
    if (GetParam() == mp::StartMethod::spawn) {
        EXPECT_THROW(p.start(), mp::Error) << "spawn cannot rebuild what a lambda captured";
        EXPECT_FALSE(p.is_alive());
        return;
    }
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), 0);
    EXPECT_EQ(v.load(), 7);
}

// POSIX only: unlink() before start() (a Win32 section has no name to
// unlink: it goes with its last handle).
#if !defined(_WIN32)
TEST_P(ProcessTest, ASharedMemoryArgumentUnlinkedBeforeStart) {
    mp::SharedMemory shm({.create = true, .size = 64});
    mp::Process p(options(), write_marker, shm);
    shm.unlink();  // the name is gone before the child starts
    OutputCapture capture;
    p.start();
    p.join();
    if (GetParam() == mp::StartMethod::fork) {
        // A fork()ed child uses the mapping the Process took at construction.
        EXPECT_EQ(p.exitcode(), 0);
        EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 5), "child");
    } else {
        // A spawned child can only attach by name, as in Python.
        EXPECT_EQ(p.exitcode(), 1);
        EXPECT_NE(capture.text().find("No such file or directory"), std::string::npos);
    }
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)  // spawn is the only start method there, as in Python
INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessTest, testing::Values(mp::StartMethod::spawn),
                         method_name);
#else
INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessTest,
                         testing::Values(mp::StartMethod::fork, mp::StartMethod::spawn),
                         method_name);
#endif

// POSIX only: /proc/self/exe run by posix_spawn, the fork default checked in
// a fork()ed child, and sysconf().
#if !defined(_WIN32)
TEST(Process, SpawnedChildWithAnUnknownTargetFailsClearly) {
    const std::string self = "/proc/" + std::to_string(::getpid()) + "/exe";
    // A start-up message naming an entry point this program does not have.
    mp::detail::Encoder out;
    out.value(mp::detail::spawn_magic);
    out.value(std::int64_t{::getpid()});
    out.string("MainProcess");
    out.string("Process-99");
    out.value(std::uint8_t{0});
    out.value(std::uint32_t{1});
    out.value(std::uint32_t{99});
    out.value(std::int64_t{12345});  // not an entry point
    out.value(std::int64_t{0});
    const auto unknown =
        mpshm_test::run_command({self}, {"MPSHM_SPAWN=" + mp::detail::to_hex(out.str())}, true);
    EXPECT_EQ(unknown.exit_code, 1);
    EXPECT_NE(unknown.err.find("Process-99: its target is not in this program"), std::string::npos)
        << unknown.err;
    EXPECT_EQ(unknown.out, "") << "the child must not run the tests";

    const auto garbled = mpshm_test::run_command({self}, {"MPSHM_SPAWN=zz"}, true);
    EXPECT_EQ(garbled.exit_code, 1);
    EXPECT_NE(garbled.err.find("malformed"), std::string::npos) << garbled.err;
}

namespace {
void takes_an_int(int) {}
int g_not_code = 0;  // data, never a target
}  // namespace

// The target travels as an offset from the parent: a child checks that it
// lands in this program's own code before calling it, and that nothing
// follows the arguments.
TEST(Process, SpawnedChildRefusesATargetOutsideItsCodeAndTrailingBytes) {
    const std::string self = "/proc/" + std::to_string(::getpid()) + "/exe";
    using Entry = mp::detail::Target<void (*)(int), int>;
    mp::Process instantiates(takes_an_int, 1);  // makes Entry a real entry point
    const auto message = [](std::int64_t target, bool trailing) {
        mp::detail::Encoder out;
        out.value(mp::detail::spawn_magic);
        out.value(std::int64_t{::getpid()});
        out.string("MainProcess");
        out.string("Process-98");
        out.value(std::uint8_t{0});
        out.value(std::uint32_t{1});
        out.value(std::uint32_t{98});
        out.value(static_cast<std::int64_t>(mp::detail::code_offset(&Entry::run_spawned)));
        out.value(target);
        out.value(42);  // the int argument
        if (trailing) out.value(std::uint8_t{1});
        return "MPSHM_SPAWN=" + mp::detail::to_hex(out.str());
    };
    const auto anchor = reinterpret_cast<std::intptr_t>(&mp::detail::spawn_anchor);
    const std::int64_t into_data = reinterpret_cast<std::intptr_t>(&g_not_code) - anchor;
    for (const std::int64_t target : {into_data, std::int64_t{1} << 40U, -(std::int64_t{1} << 40U)}) {
        const auto r = mpshm_test::run_command({self}, {message(target, false)}, true);
        EXPECT_EQ(r.exit_code, 1) << "target offset " << target;
        EXPECT_NE(r.err.find("Process-98: its target is not in this program"), std::string::npos)
            << r.err;
    }
    const std::int64_t real = mp::detail::code_offset(&takes_an_int);
    const auto good = mpshm_test::run_command({self}, {message(real, false)}, true);
    EXPECT_EQ(good.exit_code, 0) << good.err;
    const auto trailing = mpshm_test::run_command({self}, {message(real, true)}, true);
    EXPECT_EQ(trailing.exit_code, 1);
    EXPECT_NE(trailing.err.find("malformed"), std::string::npos) << trailing.err;
}

TEST(Process, StartMethodIsSetOnceUnlessForcedAndContextsChooseTheirOwn) {
    const int status = mpshm_test::run_in_child([] {
        if (mp::get_start_method() != mp::StartMethod::fork) return 1;  // the POSIX default
        try {
            mp::set_start_method(mp::StartMethod::spawn);
            return 2;  // get_start_method() fixed the default already
        } catch (const std::logic_error&) {
        }
        mp::set_start_method(mp::StartMethod::spawn, true);
        if (mp::get_start_method() != mp::StartMethod::spawn) return 3;
        auto ctx = mp::get_context(mp::StartMethod::fork);
        if (ctx.get_start_method() != mp::StartMethod::fork) return 4;
        mp::Process p = ctx.Process(succeed);
        if (p.start_method() != mp::StartMethod::fork) return 5;
        mp::Process q(succeed);
        if (q.start_method() != mp::StartMethod::spawn) return 6;
        return 0;
    });
    EXPECT_EQ(mpshm_test::exit_code(status), 0);
}

TEST(Process, CpuCountIsTheOnlineProcessors) {
    EXPECT_EQ(mp::cpu_count(), static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
    EXPECT_GE(mp::cpu_count(), 1);
}
#endif  // !defined(_WIN32)
