// mpshm: the layout header at the start of every typed mpshm segment.
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <mpshm/detail/os.hpp>
#include <mpshm/detail/robust_mutex.hpp>

namespace mpshm::detail {

// What a segment holds; attach() refuses a segment of another kind.
enum class Kind : std::uint16_t {
    value = 1,
    array = 2,
    lock = 3,
    semaphore = 4,
    event = 5,
    condition = 6,
    barrier = 7,
    queue = 8,
    manager = 9,
};

inline const char* kind_name(Kind k) {
    switch (k) {
        case Kind::value:
            return "Value";
        case Kind::array:
            return "Array";
        case Kind::lock:
            return "Lock";
        case Kind::semaphore:
            return "Semaphore";
        case Kind::event:
            return "Event";
        case Kind::condition:
            return "Condition";
        case Kind::barrier:
            return "Barrier";
        case Kind::queue:
            return "Queue";
        case Kind::manager:
            return "Manager";
    }
    return "unknown kind";
}

// Which lock guards the data: none (Raw*), one in this header, or a lock
// living in another segment (Python's lock= argument), named in the header.
enum class LockKind : std::uint16_t {
    none = 0,
    lock = 1,
    rlock = 2,
    external_lock = 3,
    external_rlock = 4,
};

inline const char* lock_kind_name(LockKind k) {
    switch (k) {
        case LockKind::none:
            return "no lock";
        case LockKind::lock:
            return "a Lock";
        case LockKind::rlock:
            return "an RLock";
        case LockKind::external_lock:
            return "a shared Lock";
        case LockKind::external_rlock:
            return "a shared RLock";
    }
    return "an unknown lock";
}

inline bool is_recursive(LockKind k) {
    return k == LockKind::rlock || k == LockKind::external_rlock;
}
inline bool is_external(LockKind k) {
    return k == LockKind::external_lock || k == LockKind::external_rlock;
}

// "MPSHM" and the layout version in one word, so that a different layout is
// refused at the first read.
inline constexpr std::uint64_t header_magic = 0x4d5053484d000000ULL;  // "MPSHM\0\0\0"
inline constexpr std::uint32_t layout_version = 3;
inline constexpr std::size_t max_lock_name = 256;

namespace segment_flags {
// The creator unlinks the segment (SegmentOptions::track): the tracker and
// `mpshm-segments --clean` may remove it once the creator is dead.
inline constexpr std::uint32_t tracked = 1;
}  // namespace segment_flags

// Fixed layout: only fixed-size fields, no pointers. The creator fills every
// field, initialises the lock and the data, and stores `magic` last with
// release ordering; an attacher reads `magic` with acquire ordering first, so
// it never sees half a header.
struct SegmentHeader {
    std::uint64_t magic;  // header_magic once published; 0 while being made
    std::uint32_t version;
    std::uint32_t header_size;  // sizeof(SegmentHeader) of the creator
    Kind kind;
    LockKind lock_kind;
    std::uint32_t elem_size;
    std::uint32_t elem_align;
    std::uint32_t flags;  // segment_flags
    std::uint64_t type_tag;
    std::uint64_t count;        // elements
    std::uint64_t data_offset;  // from the start of the segment
    std::uint64_t data_bytes;
    std::int64_t creator_pid;
    std::uint64_t creator_start;  // the creator's start time (clock ticks since boot), 0 unknown
    char lock_segment[max_lock_name];  // the external lock's segment, NUL-terminated
    std::uint64_t checksum;            // of every field above but magic
    std::uint32_t recoveries;          // times a dead owner's lock was recovered (atomic)
    std::uint32_t repaired;            // `recoveries` whose damage the object has repaired
    std::uint32_t lockfree_used;       // set (atomic) before the first lock-free update
    alignas(64) RobustMutex lock;      // used when lock_kind is lock or rlock

    [[nodiscard]] std::uint64_t compute_checksum() const {
        // FNV-1a over the descriptive fields, from `version` to `checksum`.
        const auto* begin = reinterpret_cast<const unsigned char*>(&version);
        const auto* end = reinterpret_cast<const unsigned char*>(&checksum);
        std::uint64_t h = 0xcbf29ce484222325ULL;
        for (const auto* p = begin; p != end; ++p) {
            h ^= *p;
            h *= 0x100000001b3ULL;
        }
        return h;
    }

    void publish() {
        std::atomic_ref<std::uint64_t>(magic).store(header_magic, std::memory_order_release);
    }
    [[nodiscard]] std::uint64_t published_magic() {
        return std::atomic_ref<std::uint64_t>(magic).load(std::memory_order_acquire);
    }
    std::atomic_ref<std::uint32_t> recovery_count() {
        return std::atomic_ref<std::uint32_t>(recoveries);
    }
    [[nodiscard]] std::string_view lock_segment_name() const {
        return {lock_segment, ::strnlen(lock_segment, max_lock_name)};
    }
};

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(alignof(SegmentHeader) == 64);

// Where the data starts: after the header, aligned for the element and for
// a cache line, so that atomic_ref works and the lock does not share a line.
inline std::size_t data_offset_for(std::size_t elem_align) {
    const std::size_t align = elem_align > 64 ? elem_align : 64;
    return (sizeof(SegmentHeader) + align - 1) / align * align;
}

}  // namespace mpshm::detail
