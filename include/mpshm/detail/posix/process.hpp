// mpshm: POSIX process primitives: fork, spawn of this executable, wait, signal.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace mpshm::detail::posix {

[[noreturn]] inline void throw_errno(const char* what, int err = errno) {
    throw std::system_error(err, std::system_category(), std::string("mpshm: ") + what);
}

// _exit(), called through a pointer that the dynamic linker filled in when
// the program started. A direct call would go through a lazily bound PLT
// slot that only forked children ever use, so every child would look the
// symbol up again, faulting in a dozen pages of the dynamic linker's and the
// libraries' that it shares with its parent; that lookup alone costs about
// as much as the rest of the child's short life. (volatile: or the compiler
// would turn the call back into a direct one.)
inline void (*volatile exit_function)(int) = &::_exit;

[[noreturn]] inline void exit_now(int code) noexcept {
    exit_function(code);
    ::_exit(code);  // not reached
}

// Exit status as Python reports it: the code, or -N after signal N.
inline int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return 255;
}

// Reaps PID. With BLOCK false, returns nullopt while it still runs.
inline std::optional<int> wait_pid(::pid_t pid, bool block) {
    int status = 0;
    for (;;) {
        const ::pid_t r = ::waitpid(pid, &status, block ? 0 : WNOHANG);
        if (r == pid) return decode_status(status);
        if (r == 0) return std::nullopt;
        if (errno == EINTR) continue;
        throw_errno("waitpid");
    }
}

// A descriptor that becomes readable when PID exits (Linux 5.3+ pidfd), so
// that timed joins sleep in the kernel. -1 where the kernel has none.
inline int open_pidfd(::pid_t pid) noexcept {
#if defined(SYS_pidfd_open)
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -1 : static_cast<int>(fd);
#else
    (void)pid;
    return -1;
#endif
}

// Waits until PIDFD is readable or TIMEOUT passes. Returns false on timeout.
inline bool poll_pidfd(int pidfd, std::chrono::nanoseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now() + std::chrono::microseconds(999));
        pollfd p{pidfd, POLLIN, 0};
        const int r = ::poll(&p, 1, left.count() < 0 ? 0 : static_cast<int>(left.count()));
        if (r > 0) return true;
        if (r == 0) return false;
        if (errno != EINTR) throw_errno("poll");
    }
}

inline void send_signal(::pid_t pid, int sig) {
    if (::kill(pid, sig) != 0 && errno != ESRCH) throw_errno("kill");
}

// This program's arguments, so that a spawned child looks like its parent in
// ps and top.
inline std::vector<std::string> own_arguments() {
    std::string all;
    const int fd = ::open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char chunk[4096];
        for (;;) {
            const ::ssize_t n = ::read(fd, chunk, sizeof chunk);
            if (n > 0) {
                all.append(chunk, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                break;
            }
        }
        ::close(fd);
    }
    std::vector<std::string> args;
    std::size_t start = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i] == '\0') {
            args.push_back(all.substr(start, i - start));
            start = i + 1;
        }
    }
    if (args.empty()) args.emplace_back("mpshm-child");
    return args;
}

// Starts a fresh run of this executable with ENV_ENTRY ("NAME=value") added
// to the environment (replacing any NAME already there). posix_spawn uses
// vfork-like cloning, so this stays cheap however large the parent is.
inline ::pid_t spawn_self(const std::string& env_entry) {
    const std::string exe = "/proc/self/exe";
    const std::vector<std::string> args = own_arguments();
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string key = env_entry.substr(0, env_entry.find('=') + 1);
    std::vector<char*> envp;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        if (std::string_view(*e).substr(0, key.size()) != key) envp.push_back(*e);
    }
    envp.push_back(const_cast<char*>(env_entry.c_str()));
    envp.push_back(nullptr);
    ::pid_t pid = 0;
    const int err = ::posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv.data(), envp.data());
    if (err != 0) throw_errno("posix_spawn of /proc/self/exe", err);
    return pid;
}

inline int cpu_count() noexcept {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace mpshm::detail::posix
