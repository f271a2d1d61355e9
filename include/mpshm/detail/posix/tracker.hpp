// mpshm: the segment tracker, mpshm's answer to Python's resource_tracker:
// a small helper process that unlinks the segments of a creator that died
// without unlinking them (SIGKILL, a crash, _exit with the object alive).
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <string_view>

#include <mpshm/detail/posix/os.hpp>
#include <mpshm/detail/posix/proc.hpp>
#include <mpshm/detail/posix/segment.hpp>

// How it works, and why so:
// - A process starts the tracker the first time it creates a tracked
//   segment, by forking twice (so that the tracker is no child of its own
//   that wait() could reap). The two share a registry (an anonymous shared
//   mapping) and a socket pair. fork()ed children inherit both, and so share
//   the tracker; an exec()ed program does not (close-on-exec) and starts
//   its own.
// - A creator writes each segment it makes (name, device, inode, its pid
//   and start time) into a free slot of the registry, and frees the slot
//   when it unlinks the segment: plain memory writes, so tracking costs a
//   create or an unlink no system call. Attaching writes nothing, so a
//   process that only attached is never the reason a segment goes
//   (CPython 3.11's tracker registers on attach too, and unlinks segments
//   other processes still own).
// - The socket carries one message per creating process, once: "watch me".
//   The tracker holds a pidfd for each creator and wakes when one exits;
//   each of the dead creator's segments still registered is unlinked, if
//   its name still stands for that very segment (same device and inode).
//   Where pidfds are missing (Linux before 5.3), it checks every 200 ms.
//   SOCK_SEQPACKET, not a pipe: messages arrive whole whoever else sends,
//   and sending to a dead tracker fails with EPIPE instead of raising
//   SIGPIPE in the program (MSG_NOSIGNAL).
// - It exits once every process holding the socket has gone (end of file)
//   and no watched creator is alive.
// The tracker is forked from a process that may have other threads, so it
// runs only async-signal-safe code: system calls, no malloc, no stdio.
namespace mpshm::detail::posix::tracker {

// One registered segment. `state` holds the creator's pid (<< 2) and
// whether the slot is free (0), being written (1) or published (2).
struct Slot {
    std::atomic<std::uint64_t> state;
    std::uint64_t start;  // the creator's start time (clock ticks since boot)
    std::uint64_t device;
    std::uint64_t inode;
    char name[256];  // NUL-terminated
};

inline constexpr std::uint64_t slot_writing = 1;
inline constexpr std::uint64_t slot_published = 2;
inline constexpr std::uint64_t slot_state(std::int32_t pid, std::uint64_t phase) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(pid)) << 2U) | phase;
}

// Shared by the tracker and every process that shares it. The mapping is
// reserved, not committed (MAP_NORESERVE): only pages written cost memory.
struct Registry {
    static constexpr std::uint32_t capacity = 1U << 16U;
    std::atomic<std::uint32_t> used;  // slots at and past this one were never taken
    std::atomic<std::uint32_t> hint;  // where to look for a free slot first
    Slot slots[capacity];
};

struct Watch {  // the one message: "watch creator PID, started at START"
    std::int32_t pid;
    std::uint32_t reserved;
    std::uint64_t start;
};

// ---- the tracker process ------------------------------------------------------

inline void write_all(int fd, const char* text) {
    std::size_t n = ::strlen(text);
    while (n > 0) {
        const ::ssize_t w = ::write(fd, text, n);
        if (w <= 0) return;
        text += w;
        n -= static_cast<std::size_t>(w);
    }
}

inline void write_number(int fd, long value) {
    char text[24];
    (void)format_decimal(value, text);
    write_all(fd, text);
}

// Unlinks SLOT's segment if its name still stands for it, and says so on
// stderr, as Python's resource_tracker warns of what it cleans up.
inline void remove_left_behind(const Slot& slot, std::int32_t pid) {
    char path[300] = "/dev/shm/";
    ::strncat(path, slot.name, sizeof path - ::strlen(path) - 1);
    struct ::stat st {};
    if (::stat(path, &st) != 0 || static_cast<std::uint64_t>(st.st_dev) != slot.device ||
        static_cast<std::uint64_t>(st.st_ino) != slot.inode) {
        return;  // already unlinked, perhaps made again by someone else
    }
    char shm_name[260] = "/";
    ::strncat(shm_name, slot.name, sizeof shm_name - 2);
    if (::shm_unlink(shm_name) != 0) return;
    write_all(2, "mpshm: tracker: unlinked segment '");
    write_all(2, slot.name);
    write_all(2, "', left behind by process ");
    write_number(2, pid);
    write_all(2, ", which died without unlinking it\n");
}

// A creator being watched, through a pidfd (-1 where Linux has none: then
// its liveness is polled instead).
struct Creator {
    std::int32_t pid;
    int pidfd;
    std::uint64_t start;
};

// A growable array in memory of its own: the tracker may not call malloc.
template <typename T>
class Slots {
  public:
    Slots() = default;
    Slots(const Slots&) = delete;
    Slots& operator=(const Slots&) = delete;

    [[nodiscard]] std::size_t size() const { return size_; }
    T& operator[](std::size_t i) { return items_[i]; }

    // Appends a slot; nullptr when no memory is left (then nothing more is
    // tracked, and what is already tracked still is).
    T* push() {
        if (size_ == capacity_ && !grow()) return nullptr;
        return &items_[size_++];
    }

    // Removes slot I, keeping the order of the rest: registration order.
    void erase(std::size_t i) {
        ::memmove(static_cast<void*>(items_ + i), static_cast<const void*>(items_ + i + 1),
                  (size_ - i - 1) * sizeof(T));
        --size_;
    }

  private:
    bool grow() {
        const std::size_t capacity = capacity_ == 0 ? 4096 / sizeof(T) + 1 : capacity_ * 2;
        void* memory = ::mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) return false;
        if (items_ != nullptr) {
            ::memcpy(memory, static_cast<void*>(items_), size_ * sizeof(T));
            ::munmap(items_, capacity_ * sizeof(T));
        }
        items_ = static_cast<T*>(memory);
        capacity_ = capacity;
        return true;
    }

    T* items_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

class Watcher {
  public:
    explicit Watcher(Registry& registry) : registry_(registry) {}

    [[nodiscard]] bool watching() const { return creators_.size() > 0; }

    // Starts watching creator PID, or settles it at once if it is dead.
    void watch(std::int32_t pid, std::uint64_t start) {
        for (std::size_t i = 0; i < creators_.size(); ++i) {
            if (creators_[i].pid == pid && creators_[i].start == start) return;
        }
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        // Checked after opening the pidfd, so that the pidfd is its: its pid
        // may have been reused before we read its message.
        Creator* c = process_liveness(pid, start) == Liveness::dead ? nullptr : creators_.push();
        if (c == nullptr) {  // dead (or no memory left to watch it with)
            if (pidfd >= 0) ::close(pidfd);
            settle(pid, start);
            return;
        }
        *c = Creator{pid, pidfd, start};
    }

    // Waits for a message on FD (unless FD is -1) or a creator's death, and
    // settles the dead. Returns whether FD is readable.
    bool wait(int fd) {
        bool poll_liveness = false;
        polls_.clear();
        if (fd >= 0) {
            ::pollfd* p = polls_.push();
            if (p == nullptr) return false;
            *p = {fd, POLLIN, 0};
        }
        const std::size_t first_creator = polls_.size();
        for (std::size_t i = 0; i < creators_.size(); ++i) {
            if (creators_[i].pidfd < 0) poll_liveness = true;
            // poll() skips a negative fd: the slots stay aligned with creators_.
            ::pollfd* p = polls_.push();
            if (p == nullptr) return false;
            *p = {creators_[i].pidfd, POLLIN, 0};
        }
        const int ready = ::poll(&polls_[0], polls_.size(), poll_liveness ? 200 : -1);
        if (ready < 0) return false;                        // EINTR: look again
        for (std::size_t i = creators_.size(); i-- > 0;) {  // settling erases slot i
            const Creator c = creators_[i];
            const bool dead = c.pidfd >= 0 ? (polls_[first_creator + i].revents & POLLIN) != 0
                                           : process_liveness(c.pid, c.start) == Liveness::dead;
            if (!dead) continue;
            if (c.pidfd >= 0) ::close(c.pidfd);
            creators_.erase(i);
            settle(c.pid, c.start);
        }
        return fd >= 0 && (polls_[0].revents & (POLLIN | POLLHUP)) != 0;
    }

    // No one can announce a creator any more: settles the registered
    // segments of every creator that died unwatched.
    void sweep_unwatched() {
        const std::uint32_t used = registry_.used.load(std::memory_order_acquire);
        for (std::uint32_t i = 0; i < used; ++i) {
            Slot& slot = registry_.slots[i];
            const std::uint64_t state = slot.state.load(std::memory_order_acquire);
            if (state == 0) continue;
            const auto pid = static_cast<std::int32_t>(state >> 2U);
            if (process_liveness(pid, slot.start) == Liveness::dead) settle(pid, slot.start);
        }
    }

  private:
    // Creator PID died: unlinks what it left, and frees its slots.
    void settle(std::int32_t pid, std::uint64_t start) {
        const std::uint32_t used = registry_.used.load(std::memory_order_acquire);
        for (std::uint32_t i = 0; i < used; ++i) {
            Slot& slot = registry_.slots[i];
            const std::uint64_t state = slot.state.load(std::memory_order_acquire);
            if ((state >> 2U) != slot_state(pid, 0) >> 2U || slot.start != start) continue;
            if ((state & 3U) == slot_published) remove_left_behind(slot, pid);
            slot.state.store(0, std::memory_order_release);
        }
    }

    class Polls : public Slots<::pollfd> {
      public:
        void clear() {
            while (size() > 0) erase(size() - 1);  // from the end: nothing moves
        }
    };

    Registry& registry_;
    Slots<Creator> creators_;
    Polls polls_;
};

// Unmaps every shared mapping the tracker inherited from the process that
// forked it but KEEP: it must not keep those segments' memory alive after
// they are unlinked. Reads /proc/self/maps with plain system calls.
inline void unmap_shared_mappings(const void* keep) {
    const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[8192];
    std::size_t have = 0;
    for (;;) {
        const ::ssize_t got = ::read(fd, buf + have, sizeof buf - have);
        if (got <= 0) break;
        have += static_cast<std::size_t>(got);
        std::size_t line_start = 0;
        for (std::size_t i = 0; i < have; ++i) {
            if (buf[i] != '\n') continue;
            // "start-end perms ...": hexadecimal addresses, perms like "rw-s".
            const char* p = buf + line_start;
            auto hex = [&p] {
                std::uintptr_t v = 0;
                for (;; ++p) {
                    const char c = *p;
                    if (c >= '0' && c <= '9') {
                        v = v * 16 + static_cast<std::uintptr_t>(c - '0');
                    } else if (c >= 'a' && c <= 'f') {
                        v = v * 16 + static_cast<std::uintptr_t>(c - 'a' + 10);
                    } else {
                        return v;
                    }
                }
            };
            const std::uintptr_t start = hex();
            ++p;  // '-'
            const std::uintptr_t end = hex();
            ++p;  // ' '
            const auto kept = reinterpret_cast<std::uintptr_t>(keep);
            if (p + 3 < buf + i && p[3] == 's' && end > start && !(start <= kept && kept < end)) {
                // NOLINTNEXTLINE(performance-no-int-to-ptr): an address /proc/self/maps gave
                ::munmap(reinterpret_cast<void*>(start), end - start);
            }
            line_start = i + 1;
        }
        ::memmove(buf, buf + line_start, have - line_start);
        have -= line_start;
        if (have == sizeof buf) have = 0;  // a line longer than the buffer: skip it
    }
    ::close(fd);
}

// The tracker's life: its end of the socket pair is SOCKET_FD.
[[noreturn]] inline void run(int socket_fd, Registry& registry) {
    ::prctl(PR_SET_NAME, "mpshm-tracker", 0, 0, 0);
    // Like Python's tracker: Ctrl-C or a TERM sent to the whole process
    // group must not stop the cleanup it exists for.
    struct ::sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT})
        ::sigaction(sig, &ignore, nullptr);
    ::sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Keep only stderr and the socket; stdin and stdout go to /dev/null, so
    // that no one waits for the tracker to close them.
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
        ::dup2(null_fd, 0);
        ::dup2(null_fd, 1);
    }
    if (socket_fd != 3) {
        ::dup2(socket_fd, 3);
        socket_fd = 3;
    }
    if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
        const long max_fd = ::sysconf(_SC_OPEN_MAX);
        for (long fd = 4; fd < (max_fd > 0 ? max_fd : 1024); ++fd) ::close(static_cast<int>(fd));
    }
    unmap_shared_mappings(&registry);

    Watcher watcher(registry);
    bool open = true;
    while (open || watcher.watching()) {
        if (!watcher.wait(open ? socket_fd : -1)) continue;
        Watch m{};
        const ::ssize_t n = ::recv(socket_fd, &m, sizeof m, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {  // end of file: every process that could announce has gone
            open = false;
            ::close(socket_fd);
            watcher.sweep_unwatched();
            continue;
        }
        if (static_cast<std::size_t>(n) == sizeof m) watcher.watch(m.pid, m.start);
    }
    ::_exit(0);
}

// ---- the client, in every process that creates segments ------------------------

class Client {
  public:
    // Records that this process created NAME, starting the tracker if this
    // process has none. Returns a token for forget() (0: not recorded).
    // Never throws: without a tracker, segments are still unlinked by their
    // creators; only a killed creator's stay.
    std::uint32_t remember(std::string_view name, const Identity& identity) noexcept {
        if (name.size() >= sizeof(Slot::name)) return 0;
        // MPSHM_TRACKER=0 turns tracking off (where fork() is not allowed,
        // say, or to keep Python's rule that segments outlive their creator).
        const char* setting = std::getenv("MPSHM_TRACKER");
        if (setting != nullptr && std::strcmp(setting, "0") == 0) return 0;
        const std::int32_t pid = current_pid();
        if (announced_.load(std::memory_order_acquire) != pid && !announce(pid)) return 0;
        Registry& r = *registry_.load(std::memory_order_acquire);
        const std::uint32_t first = r.hint.load(std::memory_order_relaxed) % Registry::capacity;
        for (std::uint32_t n = 0; n < Registry::capacity; ++n) {
            const std::uint32_t i = (first + n) % Registry::capacity;
            Slot& slot = r.slots[i];
            std::uint64_t expected = 0;
            if (slot.state.load(std::memory_order_relaxed) != 0 ||
                !slot.state.compare_exchange_strong(expected, slot_state(pid, slot_writing),
                                                    std::memory_order_acquire)) {
                continue;
            }
            slot.start = current_start_time();
            slot.device = identity.device;
            slot.inode = identity.inode;
            ::memcpy(slot.name, name.data(), name.size());
            slot.name[name.size()] = '\0';
            // Raise the high-water mark before publishing, so that the
            // tracker's scans cover the slot once it is published.
            std::uint32_t used = r.used.load(std::memory_order_relaxed);
            while (used < i + 1 &&
                   !r.used.compare_exchange_weak(used, i + 1, std::memory_order_release)) {
            }
            slot.state.store(slot_state(pid, slot_published), std::memory_order_release);
            r.hint.store(i + 1, std::memory_order_relaxed);
            return i + 1;
        }
        return 0;  // full: this segment goes untracked
    }

    // The segment behind TOKEN was unlinked: its slot is free again.
    void forget(std::uint32_t token, const Identity& identity) noexcept {
        Registry* const registry = registry_.load(std::memory_order_acquire);
        if (token == 0 || registry == nullptr) return;
        Slot& slot = registry->slots[token - 1];
        const std::int32_t pid = current_pid();
        if (slot.state.load(std::memory_order_relaxed) != slot_state(pid, slot_published) ||
            slot.device != identity.device || slot.inode != identity.inode) {
            return;  // not ours (a fork()ed child's copy, or settled already)
        }
        slot.state.store(0, std::memory_order_release);
        registry->hint.store(token - 1, std::memory_order_relaxed);
    }

    // A fork()ed child must not inherit the mutex held by a thread that
    // does not exist in it.
    void reset_after_fork() noexcept { new (&mutex_) std::mutex; }

  private:
    // Tells the tracker (started if need be) to watch this process: once
    // per process, as a fork()ed child is a new creator.
    bool announce(std::int32_t pid) noexcept {
        const std::lock_guard lock(mutex_);
        if (announced_.load(std::memory_order_relaxed) == pid) return true;
        if (!connected() && !start()) return false;
        const Watch m{pid, 0, current_start_time()};
        ::ssize_t sent = -1;
        while ((sent = ::send(fd_, &m, sizeof m, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
        }
        if (sent != static_cast<::ssize_t>(sizeof m)) return false;  // the tracker is gone
        announced_.store(pid, std::memory_order_release);
        return true;
    }

    // Our end may have been closed by the program (and its number reused):
    // check it is still the socket we made.
    bool connected() noexcept {
        if (fd_ < 0 || registry_.load(std::memory_order_relaxed) == nullptr) return false;
        struct ::stat st {};
        if (::fstat(fd_, &st) == 0 && S_ISSOCK(st.st_mode) &&
            static_cast<std::uint64_t>(st.st_ino) == socket_inode_) {
            return true;
        }
        fd_ = -1;
        return false;
    }

    bool start() noexcept {
        // A registry left by a tracker that went away stays mapped: old
        // tokens still point into it. A new one is made.
        void* memory = ::mmap(nullptr, sizeof(Registry), PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (memory == MAP_FAILED) return false;
        auto* registry = static_cast<Registry*>(memory);  // zero-filled: all slots free
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
            ::munmap(memory, sizeof(Registry));
            return false;
        }
        const ::pid_t middle = ::fork();
        if (middle < 0) {
            ::close(fds[0]);
            ::close(fds[1]);
            ::munmap(memory, sizeof(Registry));
            return false;
        }
        if (middle == 0) {
            ::close(fds[1]);
            if (::fork() == 0) run(fds[0], *registry);
            ::_exit(0);
        }
        ::close(fds[0]);
        int status = 0;
        while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
        }
        struct ::stat st {};
        if (::fstat(fds[1], &st) != 0) {
            ::close(fds[1]);
            ::munmap(memory, sizeof(Registry));
            return false;
        }
        fd_ = fds[1];
        socket_inode_ = static_cast<std::uint64_t>(st.st_ino);
        registry_.store(registry, std::memory_order_release);
        return true;
    }

    std::mutex mutex_;                        // for starting the tracker and announcing
    std::atomic<std::int32_t> announced_{0};  // the pid that announced itself
    int fd_ = -1;
    std::uint64_t socket_inode_ = 0;
    std::atomic<Registry*> registry_{nullptr};
};

inline Client& client() {
    static Client instance;
    static const bool reset_on_fork =
        ::pthread_atfork(nullptr, nullptr, [] { instance.reset_after_fork(); }) == 0;
    (void)reset_on_fork;
    return instance;
}

}  // namespace mpshm::detail::posix::tracker

namespace mpshm::detail::posix {

// This process created NAME and will unlink it: should it die first, the
// tracker will. Returns the token untrack_segment() takes.
inline std::uint32_t track_segment(std::string_view name, const Identity& identity) noexcept {
    return tracker::client().remember(name, identity);
}

// The segment was unlinked: the tracker forgets it.
inline void untrack_segment(std::uint32_t token, const Identity& identity) noexcept {
    tracker::client().forget(token, identity);
}

}  // namespace mpshm::detail::posix
