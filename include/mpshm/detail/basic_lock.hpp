// mpshm: the handle behind Lock and RLock: a robust mutex in some segment.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mpshm/detail/segment_header.hpp>
#include <mpshm/detail/shared_segment.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>

namespace mpshm {

// Lock policy for objects without a lock: RawValue and RawArray.
struct NoLock {};

namespace detail {

template <typename Lock>
struct LockAccess;

// Copies share the lock; each copy remembers what its last acquire found.
template <bool Recursive>
class BasicLock {
  public:
    static constexpr bool recursive = Recursive;

    // A new lock in a segment of its own, like Python's Lock()/RLock().
    explicit BasicLock(const SegmentOptions& options = {})
        : BasicLock(SharedSegment::create(layout(), 0, {}, options, [](std::byte*) {})) {}

    // A copy shares the lock but holds nothing yet.
    BasicLock(const BasicLock& other) : segment_(other.segment_), mutex_(other.mutex_) {}
    BasicLock& operator=(const BasicLock& other) {
        if (this != &other) {
            segment_ = other.segment_;
            mutex_ = other.mutex_;
            owner_died_ = false;
            released_unheld_ = false;
        }
        return *this;
    }
    BasicLock(BasicLock&& other) noexcept = default;
    BasicLock& operator=(BasicLock&& other) noexcept = default;
    ~BasicLock() = default;

    // Python: acquire(block=True). Returns false only when not blocking and
    // the lock is taken by another thread.
    bool acquire(bool block = true) {
        report_damage();
        return settle(block ? mutex_->lock() : mutex_->try_lock());
    }

    // Python: acquire(timeout=t). Returns false when TIMEOUT ran out; a
    // negative timeout tries once.
    template <typename Rep, typename Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        report_damage();
        return settle(
            mutex_->lock_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
    }

    // Acquires by DEADLINE (steady clock), or blocks without one: what the
    // primitives' timed calls use, so that they return in time whoever holds
    // their lock.
    bool acquire_until(const std::optional<std::chrono::steady_clock::time_point>& deadline) {
        if (!deadline) return acquire(true);
        return acquire(*deadline - std::chrono::steady_clock::now());
    }

    // Releasing a lock this thread does not hold is an error, as in Python.
    void release() {
        if (!mutex_->unlock()) [[unlikely]] {
            throw std::invalid_argument(segment_message(segment_->name(), "cannot release",
                                                        "the lock is not held by this thread"));
        }
    }

    // How many times the owning thread holds the lock (1 for a held Lock).
    // Meaningful only to the owner: Condition uses it to release an RLock
    // completely while it waits.
    [[nodiscard]] std::uint32_t depth() const noexcept { return mutex_->depth(); }

    // BasicLockable / Lockable, for std::lock_guard, std::unique_lock, std::scoped_lock.
    void lock() { acquire(true); }
    bool try_lock() { return acquire(false); }
    // Called from the guards' destructors, so it never throws: finding the
    // lock not held by this thread (its word overwritten by another process
    // while held, or unlock() without the lock) is reported by the next
    // acquire through this handle, as CorruptSegmentError.
    void unlock() noexcept {
        if (!mutex_->unlock()) [[unlikely]]
            released_unheld_ = true;
    }

    // True when the last acquire through this handle found that the previous
    // owner had died holding the lock. The lock was recovered and is held; the
    // data it guards may be half-updated, which only the caller can judge.
    [[nodiscard]] bool previous_owner_died() const noexcept { return owner_died_; }

    // How many times any process recovered this lock from a dead owner.
    [[nodiscard]] std::uint32_t recoveries() const noexcept {
        return segment_->header().recovery_count().load(std::memory_order_relaxed);
    }

    // The segment holding the lock: pass it to attach() in another process.
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

  protected:
    explicit BasicLock(std::shared_ptr<SharedSegment> segment)
        : segment_(std::move(segment)), mutex_(&segment_->header().lock) {}

    static Layout layout() {
        return {Kind::lock,
                Recursive ? LockKind::rlock : LockKind::lock,
                0,
                1,
                0,
                0,
                Recursive ? "RLock" : "Lock"};
    }

    // The lock inside any mpshm segment: its own, or a Value's or an Array's
    // (Python's lock=v.get_lock()). Only the recursion must match.
    static std::shared_ptr<SharedSegment> attach_segment(std::string_view name) {
        return SharedSegment::attach_lock(name, layout());
    }

  private:
    template <typename>
    friend struct LockAccess;

    void report_damage() {
        if (!released_unheld_) [[likely]]
            return;
        released_unheld_ = false;
        throw CorruptSegmentError(segment_message(
            segment_->name(), "cannot use the lock",
            "it was not held by this thread when a guard released it: another process "
            "overwrote its word while it was held (or unlock() was called without it)"));
    }

    bool settle(RobustMutex::Acquired result) {
        if (result == RobustMutex::Acquired::yes) [[likely]] {
            owner_died_ = false;
            return true;
        }
        if (result == RobustMutex::Acquired::no) return false;
        owner_died_ = true;
        segment_->header().recovery_count().fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    std::shared_ptr<SharedSegment> segment_;
    RobustMutex* mutex_;
    bool owner_died_ = false;
    bool released_unheld_ = false;  // unlock() found the lock not ours: see report_damage()
};

// Lets Value, Array and Manager build lock handles around their own segments.
template <typename Lock>
struct LockAccess {
    static Lock embedded_in(std::shared_ptr<SharedSegment> segment) {
        return Lock(std::move(segment));
    }
};

}  // namespace detail
}  // namespace mpshm
