// mpshm: Win32 named segments (paging-file backed file mappings).
// SPDX-License-Identifier: MIT
#pragma once

// Boost's shared_memory_object emulates POSIX with files under ProgramData on
// Windows; windows_shared_memory is the native kernel object Python uses too.
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/windows_shared_memory.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <mpshm/detail/boost_error.hpp>
#include <mpshm/detail/win32/mappings.hpp>
#include <mpshm/errors.hpp>

namespace mpshm::detail::win32 {

namespace bip = boost::interprocess;

// Win32 sections have no identity a name can be checked against; a name
// cannot be reused while this process maps it, so one is not needed.
struct Identity {
    friend bool operator==(const Identity&, const Identity&) = default;
};

struct Mapping {
    bip::mapped_region region;
    std::size_t size = 0;
    Identity identity;
    // Lets the lock and the waits find which segment an address is in.
    MappingRegistration registration;
};

inline Mapping make_mapping(bip::mapped_region region, std::size_t size, const std::string& name) {
    const void* base = region.get_address();
    return Mapping{std::move(region), size, Identity{}, MappingRegistration(base, size, name)};
}

inline std::optional<Identity> identity_of_name(const std::string&) {
    return Identity{};
}

// The view keeps the section alive, so the handle is closed once mapped.
// MODE has no Win32 meaning: the default DACL grants the creating user only.
inline Mapping create_segment(const std::string& name, std::size_t size, unsigned /*mode*/) {
    try {
        bip::windows_shared_memory shm(bip::create_only, name.c_str(), bip::read_write, size);
        return make_mapping(bip::mapped_region(shm, bip::read_write, 0, size), size, name);
    } catch (const bip::interprocess_exception& e) {
        rethrow_boost(name, "cannot create", e);
    }
}

// A section's default DACL grants only the user who made it: there is no
// other user's segment to refuse.
inline Mapping open_segment(const std::string& name, bool /*allow_foreign_owner*/ = false) {
    try {
        bip::windows_shared_memory shm(bip::open_only, name.c_str(), bip::read_write);
        const auto size = static_cast<std::size_t>(shm.get_size());
        if (size == 0) {
            throw CorruptSegmentError(segment_message(name, "cannot attach", "segment is empty"));
        }
        return make_mapping(bip::mapped_region(shm, bip::read_write, 0, size), size, name);
    } catch (const bip::interprocess_exception& e) {
        rethrow_boost(name, "cannot attach", e);
    }
}

// A Win32 section disappears with its last handle or view: there is no name
// to remove, as Python's SharedMemory.unlink() documents.
inline int unlink_segment(const std::string& /*name*/) noexcept {
    return 0;
}

inline constexpr bool names_need_unlink = false;

// Nothing outlives its last handle on Windows, so nothing needs tracking.
inline std::uint32_t track_segment(std::string_view /*name*/,
                                   const Identity& /*identity*/) noexcept {
    return 0;
}
inline void untrack_segment(std::uint32_t /*token*/, const Identity& /*identity*/) noexcept {}

}  // namespace mpshm::detail::win32
