// mpshm: what /proc says about a process or thread: is it still running,
// and is it the one we mean (start time), not a newer one with its id.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>

#include <mpshm/detail/posix/os.hpp>

namespace mpshm::detail::posix {

// Writes VALUE (0 if negative) in decimal and a NUL at OUT; returns the
// digits written. By hand, not snprintf: the segment tracker formats in a
// child forked from a possibly multi-threaded process, where only
// async-signal-safe code may run.
inline std::size_t format_decimal(long value, char (&out)[24]) {
    char digits[24];
    std::size_t n = 0;
    auto v = static_cast<unsigned long>(value < 0 ? 0 : value);
    do {
        digits[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

// Writes "/proc/<id>/stat" into OUT.
inline void proc_stat_path(long id, char (&out)[48]) {
    char digits[24];
    const std::size_t n = format_decimal(id, digits);
    std::size_t at = 0;
    for (const char c : "/proc/") {
        if (c != '\0') out[at++] = c;
    }
    for (std::size_t i = 0; i < n; ++i) out[at++] = digits[i];
    for (const char c : "/stat") out[at++] = c;  // copies the NUL too
}

// Whether thread (or process) ID still runs (a zombie does not), and its
// start time in clock ticks since boot. Plain system calls, no allocation.
struct ThreadStatus {
    // missing: no /proc entry (exited, or hidden from us by hidepid).
    enum class State : std::uint8_t { running, zombie, missing, unknown } state = State::unknown;
    std::uint64_t start_time = 0;
};
inline ThreadStatus thread_status(::pid_t tid) {
    char path[48];
    proc_stat_path(tid, path);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return {errno == ENOENT ? ThreadStatus::State::missing : ThreadStatus::State::unknown, 0};
    }
    char buf[1024];
    const ::ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return {ThreadStatus::State::missing, 0};  // raced with its exit
    buf[n] = '\0';
    // "tid (comm) S ppid ...": comm may hold anything, so start after the last ')'.
    const char* p = nullptr;
    for (const char* q = buf; *q != '\0'; ++q)
        if (*q == ')') p = q;
    if (p == nullptr || p[1] != ' ' || p[2] == '\0') return {};
    const char state = p[2];
    // Field 22 (starttime) is the 19th after the state (field 3).
    p += 3;
    for (int field = 0; field < 19 && *p != '\0'; ++p)
        if (*p == ' ') ++field;
    std::uint64_t start = 0;
    for (; *p >= '0' && *p <= '9'; ++p) start = start * 10 + static_cast<std::uint64_t>(*p - '0');
    const bool zombie = state == 'Z' || state == 'X' || state == 'x';
    return {zombie ? ThreadStatus::State::zombie : ThreadStatus::State::running, start};
}

// What is known about process PID that started at START (0: start unknown).
enum class Liveness : std::uint8_t { alive, dead, unknown };
inline Liveness process_liveness(::pid_t pid, std::uint64_t start) {
    if (pid <= 0) return Liveness::unknown;
    const ThreadStatus status = thread_status(pid);
    switch (status.state) {
        case ThreadStatus::State::zombie:
            return Liveness::dead;
        case ThreadStatus::State::missing:  // or hidden from us (hidepid): ask the kernel
            if (::kill(pid, 0) == 0 || errno == EPERM) return Liveness::alive;
            return errno == ESRCH ? Liveness::dead : Liveness::unknown;
        case ThreadStatus::State::unknown:
            return Liveness::unknown;
        case ThreadStatus::State::running:
            break;
    }
    // The id now names a younger process: the one we meant is gone.
    return start != 0 && status.start_time != start ? Liveness::dead : Liveness::alive;
}

// This process's start time, read once per process (0 without /proc).
inline std::uint64_t current_start_time() noexcept {
    static std::atomic<std::uint64_t> cached{0};
    static std::atomic<::pid_t> cached_for{0};
    const ::pid_t pid = current_pid();
    if (cached_for.load(std::memory_order_acquire) != pid) {
        cached.store(thread_status(pid).start_time, std::memory_order_relaxed);
        cached_for.store(pid, std::memory_order_release);
    }
    return cached.load(std::memory_order_relaxed);
}

}  // namespace mpshm::detail::posix
