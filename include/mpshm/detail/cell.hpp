// mpshm: reading, writing and updating one element in shared memory.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace mpshm::detail {

// Arithmetic elements are accessed through std::atomic_ref where it is
// lock-free: reads never tear, the lock-free fetch_add of one process never
// loses an update made under the lock by another, and updates wrap like
// ctypes' integers instead of overflowing into undefined behaviour.
template <typename T>
inline constexpr bool atomic_cell =
    std::is_arithmetic_v<T>&& std::atomic_ref<T>::is_always_lock_free &&
    alignof(T) >= std::atomic_ref<T>::required_alignment;

template <typename T>
T cell_load(const T* p) noexcept {
    if constexpr (atomic_cell<T>) {
        return std::atomic_ref<T>(*const_cast<T*>(p)).load(std::memory_order_relaxed);
    } else {
        T out;
        std::memcpy(&out, p, sizeof(T));
        return out;
    }
}

template <typename T>
void cell_store(T* p, const T& x) noexcept {
    if constexpr (atomic_cell<T>) {
        std::atomic_ref<T>(*p).store(x, std::memory_order_relaxed);
    } else {
        std::memcpy(p, &x, sizeof(T));
    }
}

// Replaces *p with op(*p) in one atomic step and returns the new value.
template <typename T, typename Op>
T cell_update(T* p, Op op) {
    if constexpr (atomic_cell<T>) {
        std::atomic_ref<T> ref(*p);
        T old = ref.load(std::memory_order_relaxed);
        T next = op(old);
        while (!ref.compare_exchange_weak(old, next, std::memory_order_relaxed)) next = op(old);
        return next;
    } else {
        T next = op(cell_load(p));
        cell_store(p, next);
        return next;
    }
}

// The same, for an element whose every writer holds one lock: a plain read
// and write, as under any mutex.
template <typename T, typename Op>
T cell_update_exclusive(T* p, Op op) {
    T next = op(cell_load(p));
    cell_store(p, next);
    return next;
}

// ---- arithmetic as ctypes does it: integers wrap, errors raise ----------------

template <typename T>
using wide_unsigned_t =
    std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, std::make_unsigned_t<T>>;

template <typename T>
T wrap_add(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
        return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) +
                              static_cast<wide_unsigned_t<T>>(b));
    } else {
        return a + b;
    }
}

template <typename T>
T wrap_sub(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
        return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) -
                              static_cast<wide_unsigned_t<T>>(b));
    } else {
        return a - b;
    }
}

template <typename T>
T wrap_mul(T a, T b) {
    if constexpr (std::is_integral_v<T>) {
        return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) *
                              static_cast<wide_unsigned_t<T>>(b));
    } else {
        return a * b;
    }
}

// Integer division by zero raises, as Python's ZeroDivisionError does.
template <typename T>
void check_divisor(T b) {
    if constexpr (std::is_integral_v<T>) {
        if (b == 0) throw std::domain_error("mpshm: integer division or modulo by zero");
    }
}

template <typename T>
T wrap_div(T a, T b) {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        if (b == -1) return wrap_sub(T{0}, a);  // min / -1 wraps instead of trapping
    }
    return static_cast<T>(a / b);
}

template <typename T>
T wrap_mod(T a, T b) {
    if constexpr (std::is_signed_v<T>) {
        if (b == -1) return T{0};
    }
    return static_cast<T>(a % b);
}

// Shifts by a negative count or past the width raise, as Python's
// ValueError for negative shifts; C++ would have undefined behaviour.
template <typename T>
void check_shift(T n) {
    if constexpr (std::is_signed_v<T>) {
        if (n < 0) throw std::invalid_argument("mpshm: negative shift count");
    }
    if (static_cast<unsigned long long>(n) >=
        std::numeric_limits<std::make_unsigned_t<T>>::digits) {
        throw std::invalid_argument("mpshm: shift count not below the width of the type");
    }
}

template <typename T>
T wrap_shl(T a, T n) {
    return static_cast<T>(static_cast<wide_unsigned_t<T>>(a) << n);
}

template <typename T>
T wrap_shr(T a, T n) {
    return static_cast<T>(a >> n);  // arithmetic for signed, as Python's
}

// Adds X to *p in one atomic step and returns the new value: fetch_add where
// the hardware has it.
template <typename T>
T cell_add(T* p, T x) {
    if constexpr (atomic_cell<T> && std::is_integral_v<T>) {
        return wrap_add(std::atomic_ref<T>(*p).fetch_add(x, std::memory_order_relaxed), x);
    } else {
        return cell_update(p, [x](T v) { return wrap_add(v, x); });
    }
}

}  // namespace mpshm::detail
