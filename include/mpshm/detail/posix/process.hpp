// mpshm: POSIX process primitives: fork, spawn of this executable, wait, signal.
// detail/win32/process.hpp is its Windows counterpart, with the same names.
// SPDX-License-Identifier: MIT
#pragma once

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>  // sigabbrev_np
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace mpshm::detail::posix {

// fork is a start method here, and the default one (as in Python before 3.14).
inline constexpr bool has_fork = true;

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

// A started child, as Process sees it: waited for, signalled, reaped.
class Child {
  public:
    using sentinel_type = int;  // a pidfd
    Child() noexcept = default;
    explicit Child(::pid_t pid) noexcept : pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&& other) noexcept : pid_(other.pid_), pidfd_(std::exchange(other.pidfd_, -1)) {}
    Child& operator=(Child&& other) noexcept {
        if (this != &other) {
            release();
            pid_ = other.pid_;
            pidfd_ = std::exchange(other.pidfd_, -1);
        }
        return *this;
    }
    ~Child() { release(); }

    [[nodiscard]] ::pid_t pid() const noexcept { return pid_; }

    // Reaps the child once it has ended and returns its exit code as Python
    // reports it (-N after signal N); with BLOCK false, nullopt while it runs.
    std::optional<int> wait(bool block) { return wait_pid(pid_, block); }

    // The same, waiting at most TIMEOUT (in the kernel, on a pidfd).
    std::optional<int> wait_for(std::chrono::nanoseconds timeout) {
        if (pidfd_ < 0) pidfd_ = open_pidfd(pid_);
        if (pidfd_ >= 0) {
            if (!poll_pidfd(pidfd_, timeout)) return std::nullopt;
            return wait_pid(pid_, true);
        }
        // Kernels before Linux 5.3 have no pidfd: poll with a growing pause.
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        auto pause = std::chrono::microseconds(100);
        for (;;) {
            if (auto code = wait_pid(pid_, false)) return code;
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
            std::this_thread::sleep_for(pause);
            pause = std::min(pause * 2, std::chrono::microseconds(50'000));
        }
    }

    // Python's terminate() (SIGTERM) and kill() (SIGKILL).
    void terminate() { send_signal(pid_, SIGTERM); }
    void kill() { send_signal(pid_, SIGKILL); }

    // Readable once the child has ended; nullopt where the kernel has no pidfd.
    std::optional<sentinel_type> sentinel() {
        if (pidfd_ < 0) pidfd_ = open_pidfd(pid_);
        if (pidfd_ < 0) return std::nullopt;
        return pidfd_;
    }

    // Called once the child is reaped: the pidfd has served.
    void reaped() noexcept { release(); }

    void release() noexcept {
        if (pidfd_ >= 0) ::close(pidfd_);
        pidfd_ = -1;
    }

  private:
    ::pid_t pid_ = 0;
    int pidfd_ = -1;
};

inline Child spawn_child(const std::string& env_entry) {
    return Child(spawn_self(env_entry));
}

// The name of signal SIG without "SIG" (TERM), or null if it has none.
inline const char* signal_name(int sig) noexcept {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
    return ::sigabbrev_np(sig);
#else
    switch (sig) {
        case SIGTERM:
            return "TERM";
        case SIGKILL:
            return "KILL";
        case SIGINT:
            return "INT";
        case SIGABRT:
            return "ABRT";
        case SIGSEGV:
            return "SEGV";
        default:
            return nullptr;
    }
#endif
}

// Whether process PID still runs (Python's parent_process().is_alive()).
inline bool pid_alive(std::int64_t pid) noexcept {
    return pid > 0 && (::kill(static_cast<::pid_t>(pid), 0) == 0 || errno == EPERM);
}

// Whether the code at ADDRESS is in the same executable or library as the
// code at ANCHOR.
inline bool same_module(std::intptr_t address, std::intptr_t anchor) noexcept {
    Dl_info anchor_info{};
    Dl_info info{};
    // NOLINTBEGIN(performance-no-int-to-ptr): code addresses, for dladdr
    return ::dladdr(reinterpret_cast<void*>(anchor), &anchor_info) != 0 &&
           ::dladdr(reinterpret_cast<void*>(address), &info) != 0 &&
           info.dli_fbase == anchor_info.dli_fbase;
    // NOLINTEND(performance-no-int-to-ptr)
}

// Whether ADDRESS lies in executable code of the module that holds ANCHOR
// (the program itself): the bounds a code offset from a parent is checked
// against before anything is called through it.
inline bool in_program_code(std::uintptr_t address, std::uintptr_t anchor) noexcept {
    struct Search {
        std::uintptr_t address, anchor;
        bool found = false;
    } search{address, anchor};
    ::dl_iterate_phdr(
        [](::dl_phdr_info* info, std::size_t, void* data) -> int {
            auto& s = *static_cast<Search*>(data);
            bool holds_anchor = false;
            bool holds_address = false;
            for (int i = 0; i < info->dlpi_phnum; ++i) {
                const auto& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_LOAD || (ph.p_flags & PF_X) == 0) continue;
                const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
                const std::uintptr_t end = begin + ph.p_memsz;
                holds_anchor = holds_anchor || (s.anchor >= begin && s.anchor < end);
                holds_address = holds_address || (s.address >= begin && s.address < end);
            }
            if (!holds_anchor) return 0;  // not the program: look further
            s.found = holds_address;
            return 1;
        },
        &search);
    return search.found;
}

inline void unset_environment(const char* name) noexcept {
    ::unsetenv(name);
}

inline int cpu_count() noexcept {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace mpshm::detail::posix
