// Helpers shared by mpshm's tests: real child processes, commands, names.
// SPDX-License-Identifier: MIT
#pragma once

#if !defined(_WIN32)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/detail/os.hpp>
#include <mpshm/detail/segment_header.hpp>
#include <mpshm/shared_memory.hpp>

#if !defined(_WIN32)
extern char** environ;  // NOLINT: POSIX declares it nowhere else
#endif

namespace mpshm_test {

// A segment name unique across concurrently running test binaries (ctest -j):
// the pid separates processes, the counter separates tests in one process.
inline std::string unique_name(const std::string& tag) {
    static std::atomic<int> counter{0};
    return "mpshm_test_" + std::to_string(mpshm::detail::os::current_pid()) + "_" +
           std::to_string(counter++) + "_" + tag;
}

// Runs CONDITION until it holds or TIMEOUT passes, yielding in between: for
// state that no waitable object announces (such as a party having entered a
// barrier). Returns whether it held.
template <typename Condition>
bool eventually(Condition condition, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::yield();
    }
    return true;
}

// Asserts that CALL throws EXCEPTION whose what() contains every one of PARTS.
template <typename Exception, typename Call>
void expect_error(Call&& call, std::initializer_list<std::string> parts) {
    try {
        call();
        ADD_FAILURE() << "no exception was thrown";
    } catch (const Exception& e) {
        const std::string what = e.what();
        for (const auto& part : parts) {
            EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
        }
    }
}

// What operator<< prints for X.
template <typename T>
std::string printed(const T& x) {
    std::ostringstream out;
    out << x;
    return out.str();
}

// What CALL throws as EXCEPTION, or "(no exception)".
template <typename Exception, typename Call>
std::string error_of(Call&& call) {
    try {
        call();
    } catch (const Exception& e) {
        return e.what();
    }
    return "(no exception)";
}

inline bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

// The data area of the typed object mapped by RAW, as another process (a
// hostile peer, or damage) can reach it: what follows its header.
inline std::byte* data_of(mpshm::SharedMemory& raw) {
    const auto* header = reinterpret_cast<const mpshm::detail::SegmentHeader*>(raw.buf().data());
    return raw.buf().data() + header->data_offset;
}
inline mpshm::detail::SegmentHeader& header_of(mpshm::SharedMemory& raw) {
    return *reinterpret_cast<mpshm::detail::SegmentHeader*>(raw.buf().data());
}

// ---- POSIX only: fork()ed children, pipes, /dev/shm, commands ----------------
// (Windows tests start processes by spawn, through mpshm::Process: tests/win32/.)
#if !defined(_WIN32)

inline bool segment_exists(const std::string& name) {
    struct stat st {};
    return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

// Runs BODY in a fork()ed child and returns the child's wait status. The
// child leaves with _exit so that GoogleTest, atexit handlers and static
// destructors never run twice; an escaping exception exits with 99.
inline ::pid_t start_child(const std::function<int()>& body);
inline int wait_child(::pid_t pid);
inline int exit_code(int status);
inline int run_in_child(const std::function<int()>& body) {
    return wait_child(start_child(body));
}

// Runs BODY in COUNT children at once and returns how many exited with 0.
inline int run_in_children(int count, const std::function<int(int)>& body) {
    std::vector<::pid_t> pids;
    for (int i = 0; i < count; ++i) pids.push_back(start_child([&body, i] { return body(i); }));
    int ok = 0;
    for (const ::pid_t pid : pids) ok += wait_child(pid) == 0 ? 1 : 0;
    return ok;
}

// A one-way pipe for handing a go-ahead between processes: the reader blocks
// in the kernel until the writer has reached its point. No sleeps.
class Pipe {
  public:
    Pipe() {
        if (::pipe(fds_) != 0) throw std::system_error(errno, std::system_category(), "pipe");
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    void signal() {
        const char c = 'x';
        while (::write(fds_[1], &c, 1) < 0 && errno == EINTR) {
        }
    }
    // Returns false if every writer has gone without signalling.
    bool wait() {
        char c = 0;
        for (;;) {
            const ::ssize_t n = ::read(fds_[0], &c, 1);
            if (n == 1) return true;
            if (n == 0 || errno != EINTR) return false;
        }
    }

  private:
    int fds_[2]{-1, -1};
};

// A child started with start_child runs BODY and _exits with its result;
// unlike run_in_child the parent goes on and collects it with wait_child.
inline ::pid_t start_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const ::pid_t pid = ::fork();
    if (pid < 0) throw std::system_error(errno, std::system_category(), "fork");
    if (pid == 0) {
        int code = 99;
        try {
            code = body();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child: uncaught exception: %s\n", e.what());
        } catch (...) {
        }
        std::fflush(nullptr);
        ::_exit(code);
    }
    return pid;
}

inline int wait_child(::pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::system_error(errno, std::system_category(), "waitpid");
    }
    return status;
}

// Waits at most TIMEOUT for child PID: its wait status, or nullopt if it is
// still running then (a watchdog for calls that must return in time; the
// caller kills and reaps the child). Sleeps in the kernel on a pidfd.
inline std::optional<int> wait_child_for(::pid_t pid, std::chrono::milliseconds timeout) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) throw std::system_error(errno, std::system_category(), "pidfd_open");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const ::pid_t got = ::waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            ::close(pidfd);
            return status;
        }
        if (got < 0 && errno != EINTR) {
            ::close(pidfd);
            throw std::system_error(errno, std::system_category(), "waitpid");
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::close(pidfd);
            return std::nullopt;
        }
        ::pollfd p{pidfd, POLLIN, 0};
        (void)::poll(&p, 1, static_cast<int>(left.count()));
    }
}

// Runs BODY in a child that must end within TIMEOUT; returns its exit code
// (-signal if killed by one), or fails the test and kills it if it overran.
inline int run_in_child_within(std::chrono::milliseconds timeout,
                               const std::function<int()>& body) {
    const ::pid_t pid = start_child(body);
    const std::optional<int> status = wait_child_for(pid, timeout);
    if (!status) {
        ADD_FAILURE() << "the child did not finish within " << timeout.count() << " ms";
        ::kill(pid, SIGKILL);
        wait_child(pid);
        return -1000;
    }
    return exit_code(*status);
}

// Starts a child that runs HOLD (which takes some lock), says so, and then
// waits for ever; returns once the lock is held. Kill it to test recovery.
inline ::pid_t start_child_holding(const std::function<void()>& hold) {
    Pipe held;
    const ::pid_t pid = start_child([&] {
        hold();
        held.signal();
        Pipe never;
        never.wait();
        return 0;
    });
    if (!held.wait()) throw std::runtime_error("the child died before holding its lock");
    return pid;
}

inline void kill_and_reap(::pid_t pid) {
    ::kill(pid, SIGKILL);
    wait_child(pid);
}

// The exit code of a child that exited normally, or -signal if it was killed.
inline int exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1000;
}

struct CommandResult {
    int exit_code = -1;
    std::string out;  // standard output
    std::string err;  // standard error, when asked for
};

inline std::string read_all(int fd) {
    std::string text;
    char buffer[4096];
    for (;;) {
        const ::ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            text.append(buffer, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            return text;
        }
    }
}

// Runs ARGV (argv[0] searched in PATH) with EXTRA_ENV ("NAME=value") added,
// and collects its standard output (and standard error if CAPTURE_ERR).
inline CommandResult run_command(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& extra_env = {},
                                 bool capture_err = false) {
    int out_fds[2];
    int err_fds[2];
    if (::pipe2(out_fds, O_CLOEXEC) != 0 || ::pipe2(err_fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::system_category(), "pipe");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_fds[1], STDOUT_FILENO);
    if (capture_err) posix_spawn_file_actions_adddup2(&actions, err_fds[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    for (const auto& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    std::fflush(nullptr);
    ::pid_t pid = 0;
    const int err = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_fds[1]);
    ::close(err_fds[1]);
    if (err != 0) {
        ::close(out_fds[0]);
        ::close(err_fds[0]);
        throw std::system_error(err, std::system_category(), "posix_spawnp " + argv[0]);
    }
    CommandResult result;
    result.out = read_all(out_fds[0]);  // small outputs: no deadlock between the two pipes
    result.err = read_all(err_fds[0]);
    ::close(out_fds[0]);
    ::close(err_fds[0]);
    result.exit_code = exit_code(wait_child(pid));
    return result;
}

// The python3 that CMake found, if it is still there; tests that need it
// skip cleanly without it.
inline std::optional<std::string> python3() {
#ifdef MPSHM_PYTHON
    const std::string path = MPSHM_PYTHON;
    if (!path.empty() && ::access(path.c_str(), X_OK) == 0) return path;
#endif
    return std::nullopt;
}

// Removes a test segment on scope exit, whatever the test's outcome, so that a
// failing assertion cannot leak into /dev/shm.
class SegmentCleanup {
  public:
    explicit SegmentCleanup(std::string name) : name_(std::move(name)) {}
    SegmentCleanup(const SegmentCleanup&) = delete;
    SegmentCleanup& operator=(const SegmentCleanup&) = delete;
    ~SegmentCleanup() { ::unlink(("/dev/shm/" + name_).c_str()); }

  private:
    std::string name_;
};

#endif  // !defined(_WIN32)

}  // namespace mpshm_test
