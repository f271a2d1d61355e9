// mpshm: POSIX named segments (shm_open + mmap), through Boost.Interprocess.
// SPDX-License-Identifier: MIT
#pragma once

#include <sys/stat.h>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <mpshm/detail/boost_error.hpp>
#include <mpshm/errors.hpp>

namespace mpshm::detail::posix {

namespace bip = boost::interprocess;

// The segment behind a name, to tell a name's old segment from a new one.
struct Identity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    friend bool operator==(const Identity&, const Identity&) = default;
};

struct Mapping {
    bip::mapped_region region;
    std::size_t size = 0;
    Identity identity;
};

inline Identity identity_of(bip::mapping_handle_t handle) {
    struct stat st {};
    if (::fstat(handle.handle, &st) != 0) return {};
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// The segment NAME stands for now, if any (glibc keeps POSIX segments in /dev/shm).
inline std::optional<Identity> identity_of_name(const std::string& name) {
    struct stat st {};
    if (::stat(("/dev/shm/" + name).c_str(), &st) != 0) return std::nullopt;
    return Identity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// Creates NAME exclusively (O_EXCL) with exactly MODE, whatever the umask:
// Boost fchmods after shm_open, and its default would be 0644, so the mode is
// always passed. The descriptor is closed once mapped, as the mapping keeps
// the segment alive; a failure after creation removes the half-made segment.
inline Mapping create_segment(const std::string& name, std::size_t size, unsigned mode) {
    bip::shared_memory_object shm;
    try {
        bip::permissions perms;
        perms.set_permissions(static_cast<int>(mode));
        shm = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write, perms);
    } catch (const bip::interprocess_exception& e) {
        rethrow_boost(name, "cannot create", e);
    }
    try {
        shm.truncate(static_cast<bip::offset_t>(size));
        return Mapping{bip::mapped_region(shm, bip::read_write, 0, size), size,
                       identity_of(shm.get_mapping_handle())};
    } catch (const bip::interprocess_exception& e) {
        bip::shared_memory_object::remove(name.c_str());
        rethrow_boost(name, "cannot size and map", e);
    }
}

// Opens an existing NAME read-write and maps all of it.
inline Mapping open_segment(const std::string& name) {
    try {
        bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
        bip::offset_t size = 0;
        if (!shm.get_size(size)) throw_os_error(name, "cannot read size", errno);
        if (size <= 0) {
            // A peer between shm_open and ftruncate, or something that is not a
            // segment anyone can use. Python raises ValueError("cannot mmap an
            // empty file") here.
            throw CorruptSegmentError(segment_message(name, "cannot attach", "segment is empty"));
        }
        const auto bytes = static_cast<std::size_t>(size);
        return Mapping{bip::mapped_region(shm, bip::read_write, 0, bytes), bytes,
                       identity_of(shm.get_mapping_handle())};
    } catch (const bip::interprocess_exception& e) {
        rethrow_boost(name, "cannot attach", e);
    }
}

// Removes NAME. Returns 0, or the OS's error number.
inline int unlink_segment(const std::string& name) noexcept {
    return bip::shared_memory_object::remove(name.c_str()) ? 0 : errno;
}

// POSIX names outlive their creator until someone unlinks them.
inline constexpr bool names_need_unlink = true;

}  // namespace mpshm::detail::posix
