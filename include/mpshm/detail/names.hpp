// mpshm: segment names: validation and random generation.
// SPDX-License-Identifier: MIT
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include <mpshm/detail/os.hpp>
#include <mpshm/errors.hpp>

namespace mpshm::detail {

// Names are given without the leading '/' that shm_open wants, exactly as
// Python's SharedMemory.name reports them, so names pass between the two.
inline void validate_name(std::string_view name) {
    auto fail = [&](const std::string& why) {
        throw std::invalid_argument(segment_message(name, "bad name", why));
    };
    if (name.empty()) fail("a name must not be empty");
    if (name.find('/') != std::string_view::npos) fail("a name must not contain '/'");
    if (name.find('\\') != std::string_view::npos) fail("a name must not contain '\\'");
    if (name.find('\0') != std::string_view::npos) fail("a name must not contain a NUL byte");
    if (name == "." || name == "..") fail("'.' and '..' are not names");
    if (name.size() > os::max_name_length) {
        fail("longer than the platform's limit of " + std::to_string(os::max_name_length) +
             " characters");
    }
}

// Python's format: the platform prefix and 8 hex digits (4 random bytes).
inline std::string random_name() {
    std::array<std::uint8_t, 4> bytes{};
    os::fill_random(bytes.data(), bytes.size());
    static constexpr std::string_view hex = "0123456789abcdef";
    std::string name = os::random_name_prefix;
    for (const std::uint8_t b : bytes) {
        name += hex[b >> 4U];
        name += hex[b & 0xFU];
    }
    return name;
}

}  // namespace mpshm::detail
