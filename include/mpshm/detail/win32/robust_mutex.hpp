// mpshm: a process-shared mutex that survives the death of its owner (Win32).
// SPDX-License-Identifier: MIT
#pragma once

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <mpshm/detail/lock_recursion.hpp>
#include <mpshm/detail/win32/mappings.hpp>
#include <mpshm/detail/win32/os.hpp>
#include <mpshm/errors.hpp>

namespace mpshm::detail::win32 {

// This thread's identity in a lock's owner word: its id in the low half,
// and the low 32 bits of its creation time (100 ns ticks) in the high half,
// so that an id reused by a newer thread is not mistaken for the owner.
inline std::uint64_t compute_thread_identity() noexcept {
    FILETIME created{};
    FILETIME exited{};
    FILETIME kernel{};
    FILETIME user{};
    std::uint64_t stamp = 0;
    if (::GetThreadTimes(::GetCurrentThread(), &created, &exited, &kernel, &user) != 0) {
        stamp = created.dwLowDateTime;
    }
    return (stamp << 32U) | ::GetCurrentThreadId();
}
inline std::uint64_t current_owner() noexcept {
    thread_local const std::uint64_t me = compute_thread_identity();
    return me;
}

// Why hand-written: Boost.Interprocess's named and interprocess mutexes
// emulate POSIX on Windows (files under ProgramData, spinning), are not
// robust, and fail under Wine. A Win32 kernel mutex is robust by itself:
// when its owning thread ends, the next wait on it returns WAIT_ABANDONED.
//
// The lock in shared memory holds only plain data: the random key that
// names its kernel mutex ("Local\mpshm_lock_<32 hex digits>"), who holds it
// and how often. Each process opens the kernel mutex (CreateMutexW: open or
// make) on first use and keeps the handle while it maps the segment
// (MappedSegments); the creator opens it in init(). So:
// - every acquisition waits on the kernel mutex, whose count stays at one
//   (an RLock's recursion is counted here, by its owner only);
// - a holder that died is reported once, to whoever takes the lock next
//   (previous_owner_died): the kernel says so (WAIT_ABANDONED), or, if no
//   process kept the mutex open and it was made anew, the owner word that
//   only a release clears;
// - the same errors as the POSIX lock for a Lock re-acquired by its owner
//   and an RLock held too often.
//
// It lives inside a shared segment: init() once by the creator, before the
// segment is published; never destroyed (the segment's memory just goes).
class RobustMutex {
  public:
    using Acquired = detail::Acquired;

    // RECURSIVE: Python's RLock (the owning thread may re-acquire); otherwise
    // Python's Lock, where re-acquiring from the owner is reported instead of
    // deadlocking.
    void init(bool recursive) {
        owner_.store(0, std::memory_order_relaxed);
        depth_.store(0, std::memory_order_relaxed);
        recursive_ = recursive ? 1 : 0;
        fill_random(key_.data(), key_.size());
        (void)handle();  // the creator keeps the kernel mutex from the start
    }

    // Blocks until acquired.
    Acquired lock() { return acquire(INFINITE, true); }

    Acquired try_lock() { return acquire(0, false); }

    // Waits at most TIMEOUT, measured on the monotonic clock.
    Acquired lock_for(std::chrono::nanoseconds timeout) {
        if (timeout <= std::chrono::nanoseconds::zero()) return try_lock();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            // Rounded up: a kernel wait may end a little early.
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                                  deadline - std::chrono::steady_clock::now())
                                  .count();
            DWORD ms = 0;
            if (left > 0) {
                ms = left < static_cast<long long>(INFINITE - 1) ? static_cast<DWORD>(left)
                                                                 : INFINITE - 1;
            }
            const Acquired got = acquire(ms, true);
            if (got != Acquired::no || std::chrono::steady_clock::now() >= deadline) return got;
        }
    }

    // Returns false if the calling thread does not hold the lock.
    [[nodiscard]] bool unlock() noexcept {
        const std::uint64_t me = current_owner();
        if (owner_.load(std::memory_order_relaxed) != me) return false;
        const std::uint32_t depth = depth_.load(std::memory_order_relaxed);
        if (depth > 1) {
            depth_.store(depth - 1, std::memory_order_relaxed);
            return true;
        }
        // Cleared first: once the kernel mutex is free, another owner writes it.
        owner_.store(0, std::memory_order_release);
        ::ReleaseMutex(handle());
        return true;
    }

    // Whether the calling thread holds the lock.
    [[nodiscard]] bool held_by_me() const noexcept {
        return owner_.load(std::memory_order_relaxed) == current_owner();
    }

    // How many times the calling thread holds the lock (0 if it does not).
    [[nodiscard]] std::uint32_t depth() const noexcept {
        return held_by_me() ? depth_.load(std::memory_order_relaxed) : 0;
    }

  private:
    // The kernel mutex's name, from the key init() drew.
    [[nodiscard]] std::wstring kernel_name() const {
        static constexpr std::string_view hex = "0123456789abcdef";
        std::wstring name = L"Local\\mpshm_lock_";
        for (const std::uint8_t b : key_) {
            name += static_cast<wchar_t>(hex[b >> 4U]);
            name += static_cast<wchar_t>(hex[b & 0xFU]);
        }
        return name;
    }

    // This process's handle to the kernel mutex, opened on first use.
    HANDLE handle() {
        DWORD error = 0;
        const std::string_view key(reinterpret_cast<const char*>(key_.data()), key_.size());
        HANDLE h = MappedSegments::instance().handle_for(this, key, [&]() -> HANDLE {
            HANDLE made = ::CreateMutexW(nullptr, FALSE, kernel_name().c_str());
            if (made == nullptr) error = ::GetLastError();
            return made;
        });
        if (h == nullptr) {
            throw std::system_error(static_cast<int>(error), std::system_category(),
                                    "mpshm: cannot open a lock's kernel mutex");
        }
        return h;
    }

    Acquired relock(bool blocking) { return detail::relock(depth_, recursive_ != 0, blocking); }

    // Waits MS milliseconds (INFINITE: for ever) for the kernel mutex.
    Acquired acquire(DWORD ms, bool blocking) {
        const std::uint64_t me = current_owner();
        // Only the owner can find its own identity here.
        if (owner_.load(std::memory_order_relaxed) == me) return relock(blocking);
        const DWORD r = ::WaitForSingleObject(handle(), ms);
        if (r == WAIT_TIMEOUT) return Acquired::no;
        if (r != WAIT_OBJECT_0 && r != WAIT_ABANDONED) {
            throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                    "mpshm: waiting for a lock's kernel mutex");
        }
        // Ours now. A release clears the owner word before it frees the
        // kernel mutex, so a word still set names a holder that died.
        const bool died = r == WAIT_ABANDONED || owner_.load(std::memory_order_acquire) != 0;
        owner_.store(me, std::memory_order_relaxed);
        depth_.store(1, std::memory_order_relaxed);
        return died ? Acquired::previous_owner_died : Acquired::yes;
    }

    std::atomic<std::uint64_t> owner_;  // current_owner() of the holder; 0 when free
    // Written by the owner only, while it holds the lock.
    std::atomic<std::uint32_t> depth_;
    std::uint32_t recursive_;           // fixed at init
    std::array<std::uint8_t, 16> key_;  // names the kernel mutex; fixed at init
};

}  // namespace mpshm::detail::win32
