// mpshm: prints values the way Python's repr() does, so that C++ output can
// be compared byte for byte with CPython's.
// SPDX-License-Identifier: MIT
#pragma once

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

#include <mpshm/detail/python_str.hpp>

namespace mpshm::detail {

// repr(float) of CPython: the shortest digits that round-trip, positional
// between 1e-4 and 1e16, exponent form outside, and always a '.0' or an
// exponent so that it reads back as a float. A C float is widened to double
// first, as ctypes does, so that 5.1f prints 5.099999904632568.
inline std::string python_float_repr(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
    std::string sci(buf, res.ptr);  // e.g. "-5.099999904632568e+00"
    std::string out;
    std::size_t i = 0;
    if (sci[0] == '-') {
        out = "-";
        i = 1;
    }
    const std::size_t e = sci.find('e');
    std::string digits;
    for (std::size_t k = i; k < e; ++k) {
        if (sci[k] != '.') digits += sci[k];
    }
    const int exponent = std::atoi(sci.c_str() + e + 1);
    const int decpt = exponent + 1;  // digits before the decimal point
    const int ndigits = static_cast<int>(digits.size());
    if (decpt <= -4 || decpt > 16) {
        out += digits[0];
        if (ndigits > 1) out += "." + digits.substr(1);
        const int exp = decpt - 1;
        out += exp < 0 ? "e-" : "e+";
        const int mag = std::abs(exp);
        if (mag < 10) out += '0';
        out += std::to_string(mag);
    } else if (decpt <= 0) {
        out += "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
    } else if (decpt >= ndigits) {
        out += digits + std::string(static_cast<std::size_t>(decpt - ndigits), '0') + ".0";
    } else {
        out += digits.substr(0, static_cast<std::size_t>(decpt)) + "." +
               digits.substr(static_cast<std::size_t>(decpt));
    }
    return out;
}

// repr(bytes([c])) of CPython, as ctypes' c_char prints: b'a', b'\n', b"'".
inline std::string python_char_repr(char c) {
    return python_bytes_repr(std::string_view(&c, 1));
}

template <typename T>
void write_python_repr(std::ostream& os, const T& x) {
    if constexpr (std::is_same_v<T, bool>) {
        os << (x ? "True" : "False");
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        os << python_str_repr(x);
    } else if constexpr (std::is_same_v<T, char>) {
        os << python_char_repr(x);
    } else if constexpr (std::is_floating_point_v<T>) {
        os << python_float_repr(static_cast<double>(x));
    } else if constexpr (std::is_integral_v<T>) {
        // Widen so that signed/unsigned char print as numbers, as ctypes'
        // c_byte and c_ubyte do.
        if constexpr (std::is_signed_v<T>) {
            os << static_cast<long long>(x);
        } else {
            os << static_cast<unsigned long long>(x);
        }
    } else {
        os << x;  // a user type with its own operator<<
    }
}

// Python's repr of a list: [1, 2.5, 'three'].
template <typename Range>
std::ostream& write_python_list(std::ostream& os, const Range& values) {
    os << '[';
    bool first = true;
    for (const auto& value : values) {
        if (!first) os << ", ";
        first = false;
        write_python_repr(os, value);
    }
    return os << ']';
}

}  // namespace mpshm::detail
