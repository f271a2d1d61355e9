// mpshm: the handle behind Lock and RLock: a robust mutex in some segment.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
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

// Segments whose lock a handle still held when it was destroyed. They stay
// mapped for the life of the process: if the holder dies, the kernel can
// only recover a robust mutex that is still mapped where it was locked.
inline void keep_mapped(std::shared_ptr<SharedSegment> segment) {
    static std::mutex mutex;
    static std::vector<std::shared_ptr<SharedSegment>> kept;
    const std::lock_guard lock(mutex);
    kept.push_back(std::move(segment));
}

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
            release_mapping();
            segment_ = other.segment_;
            mutex_ = other.mutex_;
            owner_died_ = false;
        }
        return *this;
    }
    BasicLock(BasicLock&& other) noexcept
        : segment_(std::move(other.segment_)),
          mutex_(other.mutex_),
          owner_died_(other.owner_died_),
          holds_(std::exchange(other.holds_, 0)) {}
    BasicLock& operator=(BasicLock&& other) noexcept {
        if (this != &other) {
            release_mapping();
            segment_ = std::move(other.segment_);
            mutex_ = other.mutex_;
            owner_died_ = other.owner_died_;
            holds_ = std::exchange(other.holds_, 0);
        }
        return *this;
    }
    ~BasicLock() { release_mapping(); }

    // Python: acquire(block=True). Returns false only when not blocking and
    // the lock is taken by another thread.
    bool acquire(bool block = true) { return settle(block ? mutex_->lock() : mutex_->try_lock()); }

    // Python: acquire(timeout=t). Returns false when TIMEOUT ran out; a
    // negative timeout tries once.
    template <typename Rep, typename Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return settle(
            mutex_->lock_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout)));
    }

    // Releasing a lock this thread does not hold is an error, as in Python.
    void release() {
        if (!mutex_->held_by_me()) {
            throw std::invalid_argument(segment_message(segment_->name(), "cannot release",
                                                        "the lock is not held by this thread"));
        }
        // Only the owner changes the depth, and only while it holds the lock.
        auto depth = segment_->header().depth();
        const std::uint32_t before = depth.load(std::memory_order_relaxed);
        if (before != 0) depth.store(before - 1, std::memory_order_relaxed);
        (void)mutex_->unlock();  // cannot fail: this thread holds it
        if (holds_ != 0) --holds_;
    }

    // How many times the owning thread holds the lock (1 for a held Lock).
    // Meaningful only to the owner: Condition uses it to release an RLock
    // completely while it waits.
    [[nodiscard]] std::uint32_t depth() const noexcept {
        return segment_->header().depth().load(std::memory_order_relaxed);
    }

    // BasicLockable / Lockable, for std::lock_guard, std::unique_lock, std::scoped_lock.
    void lock() { acquire(true); }
    bool try_lock() { return acquire(false); }
    void unlock() { release(); }

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

    // A handle destroyed while it holds the lock keeps the segment mapped.
    void release_mapping() noexcept {
        if (holds_ != 0 && segment_) {
            try {
                keep_mapped(segment_);
            } catch (...) {  // out of memory: the recovery guarantee is lost, nothing else
            }
        }
        holds_ = 0;
    }

    bool settle(RobustMutex::Acquired result) {
        if (result == RobustMutex::Acquired::no) return false;
        ++holds_;
        owner_died_ = result == RobustMutex::Acquired::previous_owner_died;
        auto depth = segment_->header().depth();
        if (owner_died_) {
            segment_->header().recovery_count().fetch_add(1, std::memory_order_relaxed);
            depth.store(1, std::memory_order_relaxed);  // the dead owner's holds are gone
        } else {
            depth.store(depth.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        }
        return true;
    }

    std::shared_ptr<SharedSegment> segment_;
    RobustMutex* mutex_;
    bool owner_died_ = false;
    std::uint32_t holds_ = 0;  // acquisitions through this handle not yet released
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
