// mpshm: POSIX process identity and randomness.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <system_error>

#if defined(__linux__)
#include <sys/random.h>
#endif

namespace mpshm::detail::posix {

using pid_type = ::pid_t;

// This process's id, without a system call after the first (glibc's
// getpid() makes one each time). A fork()ed child starts with the cache
// cleared.
inline std::atomic<pid_type> cached_pid{0};
inline pid_type current_pid() noexcept {
    pid_type pid = cached_pid.load(std::memory_order_relaxed);
    if (pid == 0) [[unlikely]] {
        static const bool reset_on_fork = [] {
            ::pthread_atfork(nullptr, nullptr,
                             [] { cached_pid.store(0, std::memory_order_relaxed); });
            return true;
        }();
        (void)reset_on_fork;
        pid = ::getpid();
        cached_pid.store(pid, std::memory_order_relaxed);
    }
    return pid;
}

// Whether process PID has certainly exited (not merely hidden from us).
inline bool process_gone(pid_type pid) noexcept {
    return ::kill(pid, 0) != 0 && errno == ESRCH;
}

// Python's shared_memory module takes its names from the OS's random source
// (secrets.token_hex); so do we. getrandom(2) cannot run out of file
// descriptors, unlike opening /dev/urandom, so it is preferred where it exists.
inline void fill_random(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
#if defined(__linux__)
    while (n > 0) {
        const ::ssize_t got = ::getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::system_category(), "mpshm: getrandom");
        }
        p += got;
        n -= static_cast<std::size_t>(got);
    }
#else
    const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::system_category(), "mpshm: /dev/urandom");
    while (n > 0) {
        const ::ssize_t got = ::read(fd, p, n);
        if (got <= 0) {
            if (got < 0 && errno == EINTR) continue;
            const int err = got < 0 ? errno : EIO;
            ::close(fd);
            throw std::system_error(err, std::system_category(), "mpshm: /dev/urandom");
        }
        p += got;
        n -= static_cast<std::size_t>(got);
    }
    ::close(fd);
#endif
}

// Longest segment name shm_open accepts: one path component under /dev/shm.
inline constexpr std::size_t max_name_length = 255;

// Python's prefix for random names on POSIX ("psm_" + 8 hex digits).
inline constexpr const char* random_name_prefix = "psm_";

}  // namespace mpshm::detail::posix
