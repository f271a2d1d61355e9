// mpshm: which element types may live in shared memory, and how a segment
// records its element type so that attach() can check it.
// SPDX-License-Identifier: MIT
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace mpshm {

// A type another process can read from shared memory: bytes only, no
// pointers (an address means nothing in another process).
template <typename T>
concept Shareable =
    std::is_trivially_copyable_v<T> && !std::is_pointer_v<std::remove_all_extents_t<T>> &&
    !std::is_member_pointer_v<std::remove_all_extents_t<T>> && !std::is_reference_v<T> &&
    !std::is_const_v<T> && !std::is_volatile_v<T>;

namespace detail {

// Python's ctypes typecodes, for arithmetic types whose size matches.
template <typename T>
constexpr char typecode() {
    if constexpr (std::is_same_v<T, bool>)
        return '?';
    else if constexpr (std::is_same_v<T, char>)
        return 'c';
    else if constexpr (std::is_same_v<T, wchar_t>)
        return 'u';
    else if constexpr (std::is_floating_point_v<T>) {
        if constexpr (sizeof(T) == 4)
            return 'f';
        else if constexpr (sizeof(T) == 8)
            return 'd';
        else
            return 'g';
    } else if constexpr (std::is_integral_v<T>) {
        // By size and signedness, so that int32_t is 'i' on every platform.
        constexpr bool s = std::is_signed_v<T>;
        if constexpr (sizeof(T) == 1)
            return s ? 'b' : 'B';
        else if constexpr (sizeof(T) == 2)
            return s ? 'h' : 'H';
        else if constexpr (sizeof(T) == 4)
            return s ? 'i' : 'I';
        else
            return s ? 'q' : 'Q';
    } else {
        return '\0';
    }
}

// FNV-1a: stable across compilers, runs, and processes.
constexpr std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

template <typename T>
constexpr std::string_view raw_type_name() {
#if defined(__clang__) || defined(__GNUC__)
    return __PRETTY_FUNCTION__;
#else
    return __FUNCSIG__;
#endif
}

}  // namespace detail

// The tag a segment records for its element type. Arithmetic types get a
// stable tag built from Python's typecode and the size. Other types default
// to a hash of the type's name, which matches between processes built by the
// same compiler; to share a struct between programs built differently,
// specialise this template with a constant of your own:
//
//   template <> struct mpshm::type_tag<Point> {
//       static constexpr std::uint64_t value = 0x506f696e74000001;  // any fixed number
//   };
template <typename T>
struct type_tag {
    static constexpr std::uint64_t value =
        detail::typecode<T>() != '\0'
            ? (std::uint64_t{0x7079} << 48U) |  // "py": a Python typecode follows
                  (std::uint64_t{static_cast<unsigned char>(detail::typecode<T>())} << 8U) |
                  sizeof(T)
            : detail::fnv1a(detail::raw_type_name<T>()) & ~(std::uint64_t{0xffff} << 48U);
};

namespace detail {

// How a tag reads in an error message: "'i' (4 bytes)" or "type tag 0x…".
inline std::string describe_type_tag(std::uint64_t tag, std::uint32_t size) {
    if ((tag >> 48U) == 0x7079) {
        return std::string("'") + static_cast<char>((tag >> 8U) & 0xffU) + "' (" +
               std::to_string(size) + " bytes)";
    }
    static constexpr std::string_view hex = "0123456789abcdef";
    std::string s = "type tag 0x";
    for (int shift = 60; shift >= 0; shift -= 4) s += hex[(tag >> shift) & 0xfU];
    return s + " (" + std::to_string(size) + " bytes)";
}

}  // namespace detail
}  // namespace mpshm
