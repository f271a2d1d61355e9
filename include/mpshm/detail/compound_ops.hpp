// mpshm: Python's augmented assignments (+=, -=, ...) as single atomic steps,
// shared by Value and by Array's element references.
// SPDX-License-Identifier: MIT
#pragma once

#include <concepts>
#include <type_traits>

#include <mpshm/detail/cell.hpp>

namespace mpshm::detail {

template <typename T>
concept Numeric = std::is_arithmetic_v<T> && !std::is_same_v<T, bool>;

template <typename T>
concept Integer = std::is_integral_v<T> && !std::is_same_v<T, bool>;

// Integers with lock-free atomics: fetch_add and friends work without a lock.
template <typename T>
concept LockFreeInteger = Integer<T> && atomic_cell<T>;

// What may stand on the right of `x op= y`: like ctypes, an integer element
// takes integers only (Python's c_int refuses a float with TypeError), a
// floating element takes any number.
template <typename T, typename U>
concept OperandFor = Numeric<T> && Numeric<U> &&(std::is_floating_point_v<T> || Integer<U>);

// Python computes a float element's update in double precision and stores
// the result back, narrowing once: do the same.
template <typename T, typename U>
using compute_t =
    std::conditional_t<std::is_floating_point_v<T>, std::common_type_t<T, U, double>, T>;

// DERIVED provides `template <class Op> T update(Op op)`, which applies OP to
// the element in one atomic step and returns the new value, and
// `T add(T x)`, its fast path for addition.
template <typename Derived, typename T>
class CompoundOps {
  public:
    template <typename U>
    requires OperandFor<T, U> T operator+=(U x) {
        if constexpr (std::is_integral_v<T>) {
            return self().add(static_cast<T>(x));
        } else {
            return self().update(
                [x](T v) { return arith<U>(v, x, [](auto a, auto b) { return a + b; }); });
        }
    }

    template <typename U>
    requires OperandFor<T, U> T operator-=(U x) {
        if constexpr (std::is_integral_v<T>) {
            return self().add(wrap_sub(T{0}, static_cast<T>(x)));
        } else {
            return self().update(
                [x](T v) { return arith<U>(v, x, [](auto a, auto b) { return a - b; }); });
        }
    }

    template <typename U>
    requires OperandFor<T, U> T operator*=(U x) {
        if constexpr (std::is_integral_v<T>) {
            const T y = static_cast<T>(x);
            return self().update([y](T v) { return wrap_mul(v, y); });
        } else {
            return self().update(
                [x](T v) { return arith<U>(v, x, [](auto a, auto b) { return a * b; }); });
        }
    }

    template <typename U>
    requires OperandFor<T, U> T operator/=(U x) {
        if constexpr (std::is_integral_v<T>) {
            const T y = static_cast<T>(x);
            check_divisor(y);
            return self().update([y](T v) { return wrap_div(v, y); });
        } else {
            return self().update(
                [x](T v) { return arith<U>(v, x, [](auto a, auto b) { return a / b; }); });
        }
    }

    template <Integer U>
    requires Integer<T> T operator%=(U x) {
        const T y = static_cast<T>(x);
        check_divisor(y);
        return self().update([y](T v) { return wrap_mod(v, y); });
    }

    template <Integer U>
    requires Integer<T> T operator&=(U x) {
        const T y = static_cast<T>(x);
        return self().update([y](T v) { return static_cast<T>(v & y); });
    }

    template <Integer U>
    requires Integer<T> T operator|=(U x) {
        const T y = static_cast<T>(x);
        return self().update([y](T v) { return static_cast<T>(v | y); });
    }

    template <Integer U>
    requires Integer<T> T operator^=(U x) {
        const T y = static_cast<T>(x);
        return self().update([y](T v) { return static_cast<T>(v ^ y); });
    }

    template <Integer U>
    requires Integer<T> T operator<<=(U x) {
        check_shift(x);
        return self().update([x](T v) { return wrap_shl(v, static_cast<T>(x)); });
    }

    template <Integer U>
    requires Integer<T> T operator>>=(U x) {
        check_shift(x);
        return self().update([x](T v) { return wrap_shr(v, static_cast<T>(x)); });
    }

    // ++x and --x return the new value, x++ and x-- the old one.
    T operator++() requires Numeric<T> { return *this += 1; }
    T operator--() requires Numeric<T> { return *this -= 1; }
    T operator++(int) requires Numeric<T> {
        if constexpr (std::is_integral_v<T>) {
            return wrap_sub(T(*this += 1), T{1});
        } else {
            T old{};
            self().update([&old](T v) { return static_cast<T>((old = v) + 1); });
            return old;
        }
    }
    T operator--(int) requires Numeric<T> {
        if constexpr (std::is_integral_v<T>) {
            return wrap_add(T(*this -= 1), T{1});
        } else {
            T old{};
            self().update([&old](T v) { return static_cast<T>((old = v) - 1); });
            return old;
        }
    }

  private:
    template <typename U, typename F>
    static T arith(T v, U x, F f) {
        using C = compute_t<T, U>;
        return static_cast<T>(f(static_cast<C>(v), static_cast<C>(x)));
    }

    Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace mpshm::detail
