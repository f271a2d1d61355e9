// mpshm: the segments on this host, like ipcs and ipcrm for mpshm: which
// exist, what they hold, whether their creator lives; and removing the ones
// a dead creator left. The mpshm-segments tool is a front end to this.
// SPDX-License-Identifier: MIT
#pragma once

#if defined(_WIN32)
#error "mpshm/segments.hpp: Windows has no directory of named segments to list"
#endif

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <mpshm/detail/os.hpp>
#include <mpshm/detail/segment_header.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/type_tag.hpp>

namespace mpshm {

struct SegmentInfo {
    enum class Creator : std::uint8_t { alive, dead, unknown };

    std::string name;
    std::size_t size = 0;
    // "Value", "Array", "Manager", ... for an mpshm object; "raw" for a
    // segment without an mpshm header (SharedMemory, ShareableList, or
    // Python's); "?" when it cannot be read (another user's).
    std::string kind;
    std::string type;                         // the element type, "" when none or unknown
    std::optional<std::int64_t> creator_pid;  // known for mpshm objects only
    Creator creator = Creator::unknown;
    bool tracked = false;  // its creator unlinks it (SegmentOptions::track)
    unsigned uid = 0;      // owner
    unsigned mode = 0;     // permission bits
};

namespace detail {

inline const char* shm_directory = "/dev/shm";

// "int ('i')" for a Python typecode's tag; else as in error messages.
inline std::string describe_element(std::uint64_t tag, std::uint32_t size) {
    if ((tag >> 48U) == 0x7079) {
        const char code = static_cast<char>((tag >> 8U) & 0xffU);
        // Typecodes are given by size and signedness (type_tag.hpp).
        static constexpr struct {
            char code;
            const char* name;
        } names[] = {{'b', "int8"},    {'B', "uint8"},  {'h', "int16"},       {'H', "uint16"},
                     {'i', "int32"},   {'I', "uint32"}, {'q', "int64"},       {'Q', "uint64"},
                     {'f', "float"},   {'d', "double"}, {'g', "long double"}, {'c', "char"},
                     {'u', "wchar_t"}, {'?', "bool"}};
        for (const auto& n : names) {
            if (n.code == code) return std::string(n.name) + " ('" + code + "')";
        }
    }
    return describe_type_tag(tag, size);
}

// Reads what NAME's header says, without mapping it: a segment shrunk under
// us cannot raise SIGBUS through read(), and nothing is attached or locked.
inline std::optional<SegmentInfo> describe_segment(const std::string& name) {
    const std::string path = std::string(shm_directory) + "/" + name;
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    SegmentInfo info;
    info.name = name;
    info.size = static_cast<std::size_t>(st.st_size);
    info.uid = static_cast<unsigned>(st.st_uid);
    info.mode = static_cast<unsigned>(st.st_mode & 07777);
    info.kind = "raw";
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        info.kind = "?";
        return info;
    }
    SegmentHeader header{};
    const ::ssize_t got = ::pread(fd, &header, sizeof header, 0);
    ::close(fd);
    if (got != static_cast<::ssize_t>(sizeof header) || header.magic != header_magic ||
        header.version != layout_version || header.checksum != header.compute_checksum()) {
        return info;
    }
    info.kind = kind_name(header.kind);
    if (header.elem_size != 0 && header.kind != Kind::manager) {
        info.type = describe_element(header.type_tag, header.elem_size);
        if (header.kind == Kind::array) info.type += "[" + std::to_string(header.count) + "]";
    }
    info.creator_pid = header.creator_pid;
    info.tracked = (header.flags & segment_flags::tracked) != 0;
    switch (os::process_liveness(static_cast<::pid_t>(header.creator_pid), header.creator_start)) {
        case os::Liveness::alive:
            info.creator = SegmentInfo::Creator::alive;
            break;
        case os::Liveness::dead:
            info.creator = SegmentInfo::Creator::dead;
            break;
        case os::Liveness::unknown:
            break;
    }
    return info;
}

}  // namespace detail

// mpshm's segments on this host, by name: every mpshm object's, and every
// raw segment with a random name (psm_...) such as SharedMemory and Python
// make. ALL lists every segment in /dev/shm, whoever made it.
inline std::vector<SegmentInfo> list_segments(bool all = false) {
    std::vector<SegmentInfo> found;
    DIR* dir = ::opendir(detail::shm_directory);
    if (dir == nullptr) {
        detail::throw_os_error(detail::shm_directory, "cannot list segments in", errno);
    }
    while (const ::dirent* entry = ::readdir(dir)) {
        const std::string name = entry->d_name;
        if (name == "." || name == "..") continue;
        auto info = detail::describe_segment(name);
        if (!info) continue;
        const bool random_raw =
            name.rfind(detail::os::random_name_prefix, 0) == 0 && info->kind == "raw";
        if (all || info->creator_pid || random_raw) found.push_back(std::move(*info));
    }
    ::closedir(dir);
    std::sort(found.begin(), found.end(),
              [](const SegmentInfo& a, const SegmentInfo& b) { return a.name < b.name; });
    return found;
}

// Unlinks every mpshm object whose creator is certainly dead and that its
// creator would have unlinked (tracked): what the tracker did not get to,
// because it was killed too, or turned off. Raw segments record no creator
// and are never removed here; untracked ones were meant to outlive their
// creator. Returns what was removed.
inline std::vector<SegmentInfo> remove_dead_segments() {
    std::vector<SegmentInfo> removed;
    for (SegmentInfo& info : list_segments()) {
        if (!info.tracked || info.creator != SegmentInfo::Creator::dead) continue;
        // Look again just before: the name may have been made anew meanwhile.
        const auto now = detail::describe_segment(info.name);
        if (!now || now->creator_pid != info.creator_pid ||
            now->creator != SegmentInfo::Creator::dead) {
            continue;
        }
        if (detail::os::unlink_segment(info.name) == 0) removed.push_back(std::move(info));
    }
    return removed;
}

}  // namespace mpshm
