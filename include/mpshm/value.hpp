// mpshm: a single shared value, the mirror of Python's
// multiprocessing.Value and RawValue (multiprocessing.sharedctypes).
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string_view>
#include <type_traits>

#include <mpshm/detail/cell.hpp>
#include <mpshm/detail/compound_ops.hpp>
#include <mpshm/detail/python_repr.hpp>
#include <mpshm/detail/synchronized.hpp>
#include <mpshm/lock.hpp>
#include <mpshm/shared_memory.hpp>

namespace mpshm {

template <typename T, typename LockPolicy>
class Value;

// Holds the Value's lock and gives the value itself, for critical sections
// longer than one operation: `auto g = v.lock(); *g = f(*g);`. For integers
// with lock-free operations, *g is a reference object whose `+=` and friends
// stay exact beside another process's fetch_add; for other types, T&.
template <typename T, typename LockPolicy>
class ValueGuard {
  public:
    decltype(auto) operator*() const noexcept { return detail::held_element(value_, lockfree_); }
    T* operator->() const noexcept requires(!detail::LockFreeInteger<T>) { return value_; }

  private:
    friend class Value<T, LockPolicy>;
    ValueGuard(detail::LockHold<LockPolicy> hold, T* value, const std::uint32_t* lockfree)
        : hold_(std::move(hold)), value_(value), lockfree_(lockfree) {}
    detail::LockHold<LockPolicy> hold_;
    T* value_;
    const std::uint32_t* lockfree_;
};

// Python's Value(typecode, init, lock=True): one T in a segment of its own,
// with a robust recursive lock (RLock) by default, a plain Lock on request,
// or none (RawValue). Copies share the segment; another process reaches it
// with Value<T>::attach(v.name()). Every operation is one atomic step:
// `v += 1` loses no update, unlike Python's `v.value += 1`.
template <typename T, typename LockPolicy = RLock>
class Value : public detail::Synchronized<T, LockPolicy>,
              public detail::CompoundOps<Value<T, LockPolicy>, T> {
    using Base = detail::Synchronized<T, LockPolicy>;

  public:
    using value_type = T;
    using lock_type = LockPolicy;

    // Python: Value('i'): zero.
    Value() : Value(T{}) {}

    // Python: Value('i', 5). OPTIONS names the segment or keeps it past its
    // creator (.track = false).
    explicit Value(const T& init, const SegmentOptions& options = {})
        : Base(Base::create(layout(), 1, nullptr, options, initializer(init)), nullptr) {}

    // Python: Value('i', 5, lock=shared): guarded by an existing lock, which
    // other objects may share (a Lock, an RLock, or another's get_lock()).
    Value(const T& init, const LockPolicy& shared_lock,
          const SegmentOptions& options = {}) requires detail::has_lock<LockPolicy>
        : Base(Base::create(layout(), 1, &shared_lock, options, initializer(init)), &shared_lock) {}

    // Reaches a Value made by another process. Checks that the segment holds
    // a Value of exactly this T and lock kind: TypeMismatchError if not,
    // CorruptSegmentError if it is not an mpshm segment, FileNotFoundError
    // if the name does not exist.
    static Value attach(std::string_view name) {
        return Value(detail::SharedSegment::attach(name, layout()));
    }

    // One locked read / write: Python's v.value and v.value = x.
    [[nodiscard]] T load() const {
        return this->locked([&] { return detail::cell_load(this->data()); });
    }
    void store(const T& x) {
        this->locked([&] { detail::cell_store(this->data(), x); });
    }

    // Holds the lock until the guard is destroyed; *guard is the value.
    [[nodiscard]] ValueGuard<T, LockPolicy> lock() requires detail::has_lock<LockPolicy> {
        return ValueGuard<T, LockPolicy>(this->hold(), this->data(), this->lockfree_flag());
    }

    // The value itself, without locking (Python's get_obj()).
    [[nodiscard]] T& get_obj() const noexcept { return *this->data(); }

    // Lock-free atomics for integers the hardware supports: no lock taken,
    // and still atomic with respect to the locked operations.
    T fetch_add(T x) requires detail::LockFreeInteger<T> { return lockfree().fetch_add(x); }
    T fetch_sub(T x) requires detail::LockFreeInteger<T> { return lockfree().fetch_sub(x); }
    T fetch_and(T x) requires detail::LockFreeInteger<T> { return lockfree().fetch_and(x); }
    T fetch_or(T x) requires detail::LockFreeInteger<T> { return lockfree().fetch_or(x); }
    T fetch_xor(T x) requires detail::LockFreeInteger<T> { return lockfree().fetch_xor(x); }
    T exchange(T x) requires detail::LockFreeInteger<T> { return lockfree().exchange(x); }
    bool compare_exchange(T& expected, T desired) requires detail::LockFreeInteger<T> {
        return lockfree().compare_exchange_strong(expected, desired);
    }

    // Prints the value as Python's print(v.value) does.
    friend std::ostream& operator<<(std::ostream& os, const Value& v) {
        detail::write_python_repr(os, v.load());
        return os;
    }

  private:
    friend class detail::CompoundOps<Value, T>;

    // For CompoundOps: one atomic step under the lock.
    template <typename Op>
    T update(Op op) {
        return this->locked_update(this->data(), op);
    }
    T add(T x) { return this->locked_add(this->data(), x); }

    explicit Value(std::shared_ptr<detail::SharedSegment> segment)
        : Base(std::move(segment), nullptr) {}

    static detail::Layout layout() {
        return detail::Layout::of<T>(detail::Kind::value, detail::own_lock_kind<LockPolicy>(), 1,
                                     detail::has_lock<LockPolicy> ? "Value" : "RawValue");
    }

    static auto initializer(const T& init) {
        return [init](std::byte* data) { std::memcpy(data, &init, sizeof(T)); };
    }

    std::atomic_ref<T> lockfree() const {
        this->before_lockfree();
        return std::atomic_ref<T>(*this->data());
    }
};

// Python's RawValue: no lock. Reads and writes of arithmetic types are still
// single atomic instructions (never torn), and `+=` is a lock-free atomic
// step where the hardware has one.
template <typename T>
using RawValue = Value<T, NoLock>;

}  // namespace mpshm
