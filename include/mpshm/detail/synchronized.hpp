// mpshm: what Value and Array share: a typed segment, its lock (or none),
// running code under that lock, and the guard for longer critical sections.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <mpshm/detail/basic_lock.hpp>
#include <mpshm/detail/cell.hpp>
#include <mpshm/detail/compound_ops.hpp>
#include <mpshm/detail/shared_segment.hpp>
#include <mpshm/lock.hpp>
#include <mpshm/type_tag.hpp>

namespace mpshm::detail {

template <typename LockPolicy>
inline constexpr bool is_lock_policy =
    std::is_same_v<LockPolicy, RLock> || std::is_same_v<LockPolicy, Lock> ||
    std::is_same_v<LockPolicy, NoLock>;

template <typename LockPolicy>
inline constexpr bool has_lock = !std::is_same_v<LockPolicy, NoLock>;

template <typename LockPolicy>
constexpr LockKind own_lock_kind() {
    if constexpr (std::is_same_v<LockPolicy, RLock>)
        return LockKind::rlock;
    else if constexpr (std::is_same_v<LockPolicy, Lock>)
        return LockKind::lock;
    else
        return LockKind::none;
}

template <typename LockPolicy>
constexpr LockKind shared_lock_kind() {
    return std::is_same_v<LockPolicy, RLock> ? LockKind::external_rlock : LockKind::external_lock;
}

// Holds LOCK for its lifetime (nothing, for NoLock).
template <typename LockPolicy>
class LockHold {
  public:
    explicit LockHold(LockPolicy* lock) : lock_(lock) {
        if (lock_ != nullptr) lock_->acquire();
    }
    LockHold(LockHold&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
    LockHold(const LockHold&) = delete;
    LockHold& operator=(const LockHold&) = delete;
    LockHold& operator=(LockHold&&) = delete;
    // Never throws: a lock found not held is reported by its next acquire.
    ~LockHold() {
        if (lock_ != nullptr) lock_->unlock();
    }

  private:
    LockPolicy* lock_;
};

// Updates made by a holder of an object's lock. Until the object's first
// lock-free operation every writer holds the lock, so a plain read and
// write do, one atomic instruction fewer. That first operation marks the
// segment (LOCKFREE_USED) under the lock, so no plain update is half done
// when the mark appears; from then on these are atomic, so that a
// lock-free fetch_add of another process running meanwhile is never lost,
// whatever the locked path (an operation, or a guard).
inline bool lockfree_marked(const std::uint32_t* lockfree_used) noexcept {
    return std::atomic_ref<std::uint32_t>(*const_cast<std::uint32_t*>(lockfree_used))
               .load(std::memory_order_relaxed) != 0;
}
template <typename T, typename Op>
T update_held(T* p, const std::uint32_t* lockfree_used, Op op) {
    return lockfree_marked(lockfree_used) ? cell_update(p, op) : cell_update_exclusive(p, op);
}
template <typename T>
T add_held(T* p, const std::uint32_t* lockfree_used, T x) {
    return lockfree_marked(lockfree_used)
               ? cell_add(p, x)
               : cell_update_exclusive(p, [x](T v) { return wrap_add(v, x); });
}

// One element as a guard gives it (the lock is held): reads, writes and
// `op=` as under any mutex, atomic once lock-free operations are in use, so
// that a guard's `*g += 1` and another process's fetch_add mix exactly.
// Given for integers that have lock-free operations; other types get T&.
template <typename T>
class HeldCell : public CompoundOps<HeldCell<T>, T> {
  public:
    HeldCell(T* p, const std::uint32_t* lockfree_used) noexcept
        : p_(p), lockfree_used_(lockfree_used) {}
    HeldCell(const HeldCell&) = default;
    ~HeldCell() = default;
    operator T() const noexcept { return cell_load(p_); }  // NOLINT: a proxy converts implicitly
    HeldCell& operator=(const T& x) noexcept {
        cell_store(p_, x);
        return *this;
    }
    // A proxy assigns the value it refers to.
    // NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
    HeldCell& operator=(const HeldCell& other) noexcept { return *this = static_cast<T>(other); }
    [[nodiscard]] T load() const noexcept { return cell_load(p_); }
    friend std::ostream& operator<<(std::ostream& os, const HeldCell& c) { return os << c.load(); }

  private:
    friend class CompoundOps<HeldCell, T>;
    template <typename Op>
    T update(Op op) {
        return update_held(p_, lockfree_used_, op);
    }
    T add(T x) { return add_held(p_, lockfree_used_, x); }

    T* p_;
    const std::uint32_t* lockfree_used_;
};

// What a guard gives for the element at P: a HeldCell, or the element itself.
template <typename T>
decltype(auto) held_element(T* p, const std::uint32_t* lockfree_used) noexcept {
    if constexpr (LockFreeInteger<T>) {
        return HeldCell<T>(p, lockfree_used);
    } else {
        (void)lockfree_used;
        return *p;
    }
}

template <typename T, typename LockPolicy>
class Synchronized {
    static_assert(
        Shareable<T>,
        "mpshm: a shared Value or Array element must be trivially copyable and must not be "
        "or hold a pointer: another process cannot follow an address into this one");
    static_assert(is_lock_policy<LockPolicy>,
                  "mpshm: the lock policy must be mpshm::RLock (Python's default), mpshm::Lock, or "
                  "mpshm::NoLock (Python's RawValue/RawArray)");

  public:
    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }

    // The lock guarding the data, as Python's get_lock(). For a lock shared
    // through Python's lock= argument, the same lock as the other objects'.
    LockPolicy& get_lock() const requires has_lock<LockPolicy> { return lock_; }

  protected:
    using lock_storage = std::conditional_t<has_lock<LockPolicy>, LockPolicy, NoLock>;

    template <typename Init>
    static std::shared_ptr<SharedSegment> create(const Layout& layout, std::uint64_t count,
                                                 const LockPolicy* shared_lock,
                                                 const SegmentOptions& options, Init&& init) {
        std::string_view lock_segment;
        Layout l = layout;
        if constexpr (has_lock<LockPolicy>) {
            if (shared_lock != nullptr) {
                lock_segment = shared_lock->name();
                l.lock_kind = shared_lock_kind<LockPolicy>();
            }
        }
        return SharedSegment::create(l, count, lock_segment, options, std::forward<Init>(init));
    }

    Synchronized(std::shared_ptr<SharedSegment> segment, const LockPolicy* shared_lock)
        : segment_(std::move(segment)),
          data_(reinterpret_cast<T*>(segment_->data())),
          lockfree_used_(&segment_->header().lockfree_used),
          lock_(make_lock(segment_, shared_lock)) {}

    // Runs F under the lock (or directly, without one) and returns its result.
    template <typename F>
    decltype(auto) locked(F&& f) const {
        if constexpr (has_lock<LockPolicy>) {
            std::lock_guard<LockPolicy> hold(lock_);
            return std::forward<F>(f)();
        } else {
            return std::forward<F>(f)();
        }
    }

    // Read-modify-writes under the lock (see update_held).
    template <typename Op>
    T locked_update(T* p, Op op) const {
        if constexpr (has_lock<LockPolicy>) {
            return locked([&] { return update_held(p, lockfree_used_, op); });
        } else {
            return cell_update(p, op);
        }
    }
    T locked_add(T* p, T x) const {
        if constexpr (has_lock<LockPolicy>) {
            return locked([&] { return add_held(p, lockfree_used_, x); });
        } else {
            return cell_add(p, x);
        }
    }

    // Whether, under the lock, the data may be copied in bulk (memcpy): no
    // lock-free operation can run on it at the same time, or its elements
    // are not accessed atomically anyway.
    [[nodiscard]] bool bulk_copy_ok() const noexcept {
        if constexpr (has_lock<LockPolicy>) {
            return !lockfree_used();
        } else {
            return !atomic_cell<T>;
        }
    }

    // Call before every lock-free operation on the data.
    // The mark never goes away, so once this handle has seen it, it does
    // not look again: the hot path reads only the handle itself.
    void before_lockfree() const {
        if constexpr (has_lock<LockPolicy>) {
            std::atomic_ref<bool> seen(lockfree_seen_);
            if (seen.load(std::memory_order_relaxed)) [[likely]]
                return;
            if (!lockfree_used()) {
                locked([&] {
                    std::atomic_ref<std::uint32_t>(*lockfree_used_)
                        .store(1, std::memory_order_relaxed);
                });
            }
            seen.store(true, std::memory_order_relaxed);
        }
    }

    [[nodiscard]] LockHold<LockPolicy> hold() const {
        if constexpr (has_lock<LockPolicy>) {
            return LockHold<LockPolicy>(&lock_);
        } else {
            return LockHold<LockPolicy>(nullptr);
        }
    }

    [[nodiscard]] T* data() const noexcept { return data_; }
    // The segment's mark of lock-free use, for guards (see held_element).
    [[nodiscard]] const std::uint32_t* lockfree_flag() const noexcept { return lockfree_used_; }
    [[nodiscard]] const std::shared_ptr<SharedSegment>& segment() const noexcept {
        return segment_;
    }

  private:
    [[nodiscard]] bool lockfree_used() const noexcept { return lockfree_marked(lockfree_used_); }

    static lock_storage make_lock(const std::shared_ptr<SharedSegment>& segment,
                                  const LockPolicy* shared_lock) {
        if constexpr (!has_lock<LockPolicy>) {
            return NoLock{};
        } else if (shared_lock != nullptr) {
            return *shared_lock;
        } else if (is_external(segment->header().lock_kind)) {
            // Attached to an object made with a shared lock: find that lock.
            return LockPolicy::attach(segment->header().lock_segment_name());
        } else {
            return LockAccess<LockPolicy>::embedded_in(segment);
        }
    }

    std::shared_ptr<SharedSegment> segment_;
    // Cached from the segment, which keeps them mapped: one load fewer on
    // every access.
    T* data_;
    std::uint32_t* lockfree_used_;
    mutable bool lockfree_seen_ = false;  // this handle saw lockfree_used set
    // Acquiring records what it found (previous_owner_died) in the handle,
    // so even reads through a const object change it.
    mutable lock_storage lock_;
};

}  // namespace mpshm::detail
