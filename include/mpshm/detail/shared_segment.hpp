// mpshm: a typed object's segment: a SharedMemory that starts with a
// validated SegmentHeader. Shared by the copies of one object in a process.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include <mpshm/detail/segment_header.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>
#include <mpshm/type_tag.hpp>

namespace mpshm::detail {

// What a C++ type expects to find in a segment.
struct Layout {
    Kind kind;
    LockKind lock_kind;
    std::uint32_t elem_size;
    std::uint32_t elem_align;
    std::uint64_t type_tag;
    std::optional<std::uint64_t> count;  // nullopt: any length (run-time sized)
    const char* type_name;               // for messages: "Value", "Array", ...

    template <typename T>
    static Layout of(Kind kind, LockKind lock_kind, std::optional<std::uint64_t> count,
                     const char* type_name) {
        return {kind,  lock_kind, sizeof(T), alignof(T), mpshm::type_tag<T>::value,
                count, type_name};
    }

    [[nodiscard]] std::string describe() const {
        std::string s = type_name;
        s += "<" + describe_type_tag(type_tag, elem_size);
        if (kind == Kind::array) s += count ? ", " + std::to_string(*count) : ", any length";
        s += "> with ";
        s += lock_kind_name(lock_kind);
        return s;
    }
};

class SharedSegment;

// One mapping per segment per process: every handle to an object in a
// process shares it. Locks need this: a robust mutex is tracked by its
// address in its owner's mapping, so it must be taken, released and (when
// its owner dies) recovered through one and the same mapping.
class SegmentCache {
  public:
    // The mapping of NAME this process already has, if NAME still stands for it.
    std::shared_ptr<SharedSegment> find(std::string_view name);

    void remember(const std::shared_ptr<SharedSegment>& segment);

  private:
    std::mutex mutex_;
    std::unordered_map<std::string, std::weak_ptr<SharedSegment>> segments_;
};

inline SegmentCache& segment_cache() {
    static SegmentCache cache;
    return cache;
}

class SharedSegment {
  public:
    // Makes a new segment for LAYOUT holding COUNT elements. INIT(data) fills
    // the (zeroed) data before the header is published.
    template <typename Init>
    static std::shared_ptr<SharedSegment> create(const Layout& layout, std::uint64_t count,
                                                 std::string_view lock_segment,
                                                 const SegmentOptions& options, Init&& init) {
        const std::size_t offset = data_offset_for(layout.elem_align);
        const std::uint64_t bytes = count * layout.elem_size;
        if ((count != 0 && bytes / count != layout.elem_size) ||
            bytes > SharedMemory::max_size - offset) {
            throw std::invalid_argument("mpshm: " + std::string(layout.type_name) + " of " +
                                        std::to_string(count) + " elements is too large");
        }
        if (lock_segment.size() >= max_lock_name) {
            throw std::invalid_argument("mpshm: lock segment name too long");
        }
        // A zero-length Array still gets a segment: Python allows Array('i', 0).
        SharedMemory shm({.name = options.name,
                          .create = true,
                          .size = offset + static_cast<std::size_t>(bytes),
                          .track = options.track,
                          .mode = options.mode});
        auto* header = reinterpret_cast<SegmentHeader*>(shm.buf().data());
        header->version = layout_version;
        header->header_size = sizeof(SegmentHeader);
        header->kind = layout.kind;
        header->lock_kind = layout.lock_kind;
        header->elem_size = layout.elem_size;
        header->elem_align = layout.elem_align;
        header->type_tag = layout.type_tag;
        header->count = count;
        header->data_offset = offset;
        header->data_bytes = bytes;
        header->creator_pid = static_cast<std::int64_t>(os::current_pid());
        header->creator_start = os::current_start_time();
        header->flags = options.track ? segment_flags::tracked : 0;
        if (!lock_segment.empty()) {
            std::memcpy(header->lock_segment, lock_segment.data(), lock_segment.size());
        }
        header->checksum = header->compute_checksum();
        if (layout.lock_kind == LockKind::lock || layout.lock_kind == LockKind::rlock) {
            header->lock.init(is_recursive(layout.lock_kind));
        }
        init(shm.buf().data() + offset);
        header->publish();
        auto segment = std::shared_ptr<SharedSegment>(new SharedSegment(std::move(shm)));
        segment_cache().remember(segment);
        return segment;
    }

    // Attaches to NAME and checks that it holds what LAYOUT expects.
    static std::shared_ptr<SharedSegment> attach(std::string_view name, const Layout& layout) {
        if (auto segment = segment_cache().find(name)) {
            validate(segment->shm_, layout);
            return segment;
        }
        SharedMemory shm(name);
        validate(shm, layout);
        auto segment = std::shared_ptr<SharedSegment>(new SharedSegment(std::move(shm)));
        segment_cache().remember(segment);
        return segment;
    }

    // Attaches to the lock inside NAME, whatever object holds it: a Lock's
    // own segment, or a Value's or Array's (Python's lock=v.get_lock()).
    static std::shared_ptr<SharedSegment> attach_lock(std::string_view name, const Layout& lock) {
        auto segment = segment_cache().find(name);
        if (!segment) {
            segment = std::shared_ptr<SharedSegment>(new SharedSegment(SharedMemory(name), lock));
            segment_cache().remember(segment);
        }
        SharedMemory& shm = segment->shm_;
        const std::string as = "cannot attach as " + std::string(lock.type_name);
        const SegmentHeader& header = segment->header();
        if (header.lock_kind != lock.lock_kind) {
            throw TypeMismatchError(
                segment_message(shm.name(), as,
                                std::string("its ") + kind_name(header.kind) + " holds " +
                                    lock_kind_name(header.lock_kind) + " of its own, not " +
                                    lock_kind_name(lock.lock_kind)));
        }
        return segment;
    }

    [[nodiscard]] const std::string& name() const noexcept { return shm_.name(); }
    [[nodiscard]] SegmentHeader& header() const noexcept { return *header_; }
    [[nodiscard]] std::byte* data() const noexcept { return data_; }
    // As validated at attach: a peer rewriting the header later cannot
    // move our bounds.
    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    [[nodiscard]] SharedMemory& memory() noexcept { return shm_; }

  private:
    explicit SharedSegment(SharedMemory shm)
        : shm_(std::move(shm)),
          header_(reinterpret_cast<SegmentHeader*>(shm_.buf().data())),
          data_(shm_.buf().data() + header_->data_offset),
          count_(header_->count) {}

    // For a lock: checks the header before the pointers into it are made.
    SharedSegment(SharedMemory shm, const Layout& lock)
        : shm_(std::move(shm)),
          header_(&validate_header(shm_, "cannot attach as " + std::string(lock.type_name))),
          data_(shm_.buf().data() + header_->data_offset),
          count_(header_->count) {}

    // Every check that does not depend on what the caller expects: is this a
    // complete, undamaged mpshm header that fits its segment?
    static SegmentHeader& validate_header(SharedMemory& shm, const std::string& as) {
        auto corrupt = [&](const std::string& why) {
            throw CorruptSegmentError(segment_message(shm.name(), as, why));
        };
        if (shm.size() < sizeof(SegmentHeader)) {
            corrupt("too small (" + std::to_string(shm.size()) +
                    " bytes) to hold an mpshm header, so not an mpshm object");
        }
        auto* header = reinterpret_cast<SegmentHeader*>(shm.buf().data());
        // A creator publishes within microseconds of making the segment; a
        // header still unpublished after this long is not going to be.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (header->published_magic() == 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        const std::uint64_t magic = header->published_magic();
        if (magic == 0) corrupt("its header was never published: not an mpshm object");
        if (magic != header_magic) corrupt("bad magic number: not an mpshm object");
        if (header->version != layout_version) {
            corrupt("layout version " + std::to_string(header->version) + ", this build reads " +
                    std::to_string(layout_version));
        }
        if (header->checksum != header->compute_checksum()) corrupt("its header is damaged");
        const bool fits =
            header->header_size == sizeof(SegmentHeader) && header->elem_align != 0 &&
            header->data_offset >= sizeof(SegmentHeader) && header->data_offset <= shm.size() &&
            header->data_bytes <= shm.size() - header->data_offset &&
            header->data_offset % header->elem_align == 0 &&
            (header->elem_size == 0 ? header->data_bytes == 0
                                    : header->data_bytes / header->elem_size == header->count &&
                                          header->data_bytes % header->elem_size == 0);
        if (!fits) corrupt("its header does not fit its " + std::to_string(shm.size()) + " bytes");
        // Every creator puts the data where data_offset_for() says: anywhere
        // else it may be misaligned for the state and atomics it holds.
        if (header->data_offset != data_offset_for(header->elem_align)) {
            corrupt("its data offset " + std::to_string(header->data_offset) +
                    " is not the one its alignment of " + std::to_string(header->elem_align) +
                    " gives");
        }
        return *header;
    }

    static void validate(SharedMemory& shm, const Layout& layout) {
        const std::string as = "cannot attach as " + layout.describe();
        const SegmentHeader& header = validate_header(shm, as);
        auto mismatch = [&](const std::string& why) {
            throw TypeMismatchError(segment_message(shm.name(), as, why));
        };
        if (header.kind != layout.kind) {
            mismatch(std::string("it holds a ") + kind_name(header.kind));
        }
        if (header.lock_kind != layout.lock_kind) {
            // An object built around a shared lock (Python's lock=) attaches
            // as one with a lock of its own of the same recursion, and back.
            const bool both_locked =
                header.lock_kind != LockKind::none && layout.lock_kind != LockKind::none;
            if (!both_locked || is_recursive(header.lock_kind) != is_recursive(layout.lock_kind)) {
                mismatch(std::string("it is guarded by ") + lock_kind_name(header.lock_kind));
            }
        }
        if (header.type_tag != layout.type_tag || header.elem_size != layout.elem_size ||
            header.elem_align != layout.elem_align) {
            mismatch("it holds " + describe_type_tag(header.type_tag, header.elem_size));
        }
        if (layout.count && header.count != *layout.count) {
            mismatch("it holds " + std::to_string(header.count) + " elements");
        }
    }

    SharedMemory shm_;
    SegmentHeader* header_;
    std::byte* data_;
    std::uint64_t count_;
};

inline std::shared_ptr<SharedSegment> SegmentCache::find(std::string_view name) {
    std::shared_ptr<SharedSegment> segment;
    {
        const std::lock_guard lock(mutex_);
        const auto it = segments_.find(std::string(name));
        if (it == segments_.end()) return nullptr;
        segment = it->second.lock();
        if (!segment) {
            segments_.erase(it);
            return nullptr;
        }
    }
    // The name may have been unlinked and made again for another segment.
    const auto now = os::identity_of_name(std::string(name));
    return now && *now == segment->memory().identity() ? segment : nullptr;
}

inline void SegmentCache::remember(const std::shared_ptr<SharedSegment>& segment) {
    const std::lock_guard lock(mutex_);
    if (segments_.size() >= 64) {  // forget the dead now and then
        std::erase_if(segments_, [](const auto& entry) { return entry.second.expired(); });
    }
    segments_[segment->name()] = segment;
}

}  // namespace mpshm::detail
