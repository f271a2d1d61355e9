// mpshm: POSIX named segments (shm_open + mmap), through Boost.Interprocess.
// SPDX-License-Identifier: MIT
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

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

inline Identity identity_of(const struct stat& st) {
    return {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
}

// The segment NAME stands for now, if any (glibc keeps POSIX segments in /dev/shm).
inline std::optional<Identity> identity_of_name(const std::string& name) {
    struct stat st {};
    if (::stat(("/dev/shm/" + name).c_str(), &st) != 0) return std::nullopt;
    return identity_of(st);
}

// A descriptor Boost's mapped_region can map (its MemoryMappable concept).
struct DescriptorMappable {
    int fd;
    [[nodiscard]] bip::mapping_handle_t get_mapping_handle() const noexcept {
        bip::mapping_handle_t handle{};
        handle.handle = fd;
        handle.is_xsi = false;
        return handle;
    }
    [[nodiscard]] bip::mode_t get_mode() const noexcept { return bip::read_write; }
};

// Creates NAME exclusively (O_EXCL) with exactly MODE, whatever the umask,
// and maps it. Not Boost's shared_memory_object: it fchmods every segment it
// creates, one system call more than needed where the umask left MODE as it
// was (the usual case); the fstat that records the segment's identity tells
// us. The descriptor is closed once mapped, as the mapping keeps the segment
// alive; a failure after creation removes the half-made segment.
inline Mapping create_segment(const std::string& name, std::size_t size, unsigned mode) {
    const std::string path = "/" + name;
    const int fd = ::shm_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                              static_cast<::mode_t>(mode));
    if (fd < 0) throw_os_error(name, "cannot create", errno);
    const auto fail = [&](const char* action, int err) {
        ::close(fd);
        ::shm_unlink(path.c_str());
        throw_os_error(name, action, err);
    };
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail("cannot create", errno);
    if ((st.st_mode & 07777) != mode && ::fchmod(fd, static_cast<::mode_t>(mode)) != 0)
        fail("cannot set the mode of", errno);
    if (::ftruncate(fd, static_cast<::off_t>(size)) != 0) fail("cannot size", errno);
    try {
        Mapping mapping{bip::mapped_region(DescriptorMappable{fd}, bip::read_write, 0, size), size,
                        identity_of(st)};
        ::close(fd);
        return mapping;
    } catch (const bip::interprocess_exception& e) {
        ::close(fd);
        ::shm_unlink(path.c_str());
        rethrow_boost(name, "cannot map", e);
    }
}

// Opens an existing NAME read-write and maps all of it.
//
// A segment owned by another user is refused with PermissionError unless
// ALLOW_FOREIGN_OWNER: a name is a public rendezvous, and another user who
// made it first (with a mode that lets us in, or for root any mode) would
// otherwise read and write whatever we share through it, or feed us data of
// its choosing. One fstat gives the owner, the size and the identity.
inline Mapping open_segment(const std::string& name, bool allow_foreign_owner = false) {
    try {
        bip::shared_memory_object shm(bip::open_only, name.c_str(), bip::read_write);
        struct stat st {};
        if (::fstat(shm.get_mapping_handle().handle, &st) != 0) {
            throw_os_error(name, "cannot attach", errno);
        }
        if (const ::uid_t me = ::geteuid(); st.st_uid != me && !allow_foreign_owner) {
            throw PermissionError(
                segment_message(name, "cannot attach",
                                "owned by uid " + std::to_string(st.st_uid) +
                                    ", not by this process's uid " + std::to_string(me)),
                std::make_error_code(std::errc::permission_denied));
        }
        if (st.st_size <= 0) {
            // A peer between shm_open and ftruncate, or something that is not a
            // segment anyone can use. Python raises ValueError("cannot mmap an
            // empty file") here.
            throw CorruptSegmentError(segment_message(name, "cannot attach", "segment is empty"));
        }
        const auto bytes = static_cast<std::size_t>(st.st_size);
        return Mapping{bip::mapped_region(shm, bip::read_write, 0, bytes), bytes, identity_of(st)};
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
