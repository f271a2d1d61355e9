// mpshm: raw named shared-memory segments, the mirror of Python's
// multiprocessing.shared_memory.SharedMemory.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <mpshm/detail/names.hpp>
#include <mpshm/detail/os.hpp>
#include <mpshm/errors.hpp>

namespace mpshm {

// How a typed shared object (Value, Array, Lock, ...) makes its segment.
struct SegmentOptions {
    std::optional<std::string> name = std::nullopt;  // nullopt: a random psm_ name
    bool track = true;     // the creator unlinks the segment on destruction
    unsigned mode = 0600;  // permissions (POSIX)
};

// A named block of memory that any process on the host can map.
//
// Ownership is stricter than Python's: the object that created a segment
// unlinks it when destroyed (unless created with track = false), objects that
// attached never do unless unlink() is called, and a fork()ed child's copy of
// a creator never unlinks its parent's segment. Move-only.
class SharedMemory {
  public:
    struct Options {
        // Python's name=: nullopt picks a random name (create only). An empty
        // string is an error, not "no name".
        std::optional<std::string> name = std::nullopt;
        bool create = false;   // Python's create=
        std::size_t size = 0;  // Python's size=: bytes, at least 1 when creating
        bool track = true;     // the creator unlinks on destruction
        unsigned mode = 0600;  // permissions of a created segment (POSIX)
        // Attach even to a segment another user owns (POSIX). Off: a name is
        // public, and another user who made it first would read what we share.
        bool allow_foreign_owner = false;
    };

    // Python: SharedMemory(name=None, create=False, size=0).
    explicit SharedMemory(const Options& options) {
        if (!options.create) {
            if (!options.name) {
                throw std::invalid_argument(
                    "mpshm: SharedMemory: a name is required unless create is true");
            }
            attach(*options.name, options.allow_foreign_owner);
            return;
        }
        if (options.size == 0) {
            throw std::invalid_argument(detail::segment_message(
                options.name.value_or("<random>"), "cannot create", "size must be at least 1"));
        }
        if (options.size > max_size) {
            throw std::invalid_argument(detail::segment_message(
                options.name.value_or("<random>"), "cannot create",
                "size " + std::to_string(options.size) + " is larger than this platform can map"));
        }
        if (options.name) {
            detail::validate_name(*options.name);
            create(*options.name, options);
            return;
        }
        // Python retries random names that collide; so do we.
        for (;;) {
            try {
                create(detail::random_name(), options);
                return;
            } catch (const FileExistsError&) {
            }
        }
    }

    // Python: SharedMemory(name): attach to an existing segment.
    explicit SharedMemory(std::string_view name) {
        attach(std::string(name));
    }

    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;

    SharedMemory(SharedMemory&& other) noexcept
        : name_(std::move(other.name_)),
          mapping_(std::move(other.mapping_)),
          identity_(other.identity_),
          creator_pid_(std::exchange(other.creator_pid_, no_pid)),
          track_token_(std::exchange(other.track_token_, 0)),
          unlink_called_(std::exchange(other.unlink_called_, true)) {}

    SharedMemory& operator=(SharedMemory&& other) noexcept {
        if (this != &other) {
            release();
            name_ = std::move(other.name_);
            mapping_ = std::move(other.mapping_);
            identity_ = other.identity_;
            creator_pid_ = std::exchange(other.creator_pid_, no_pid);
            track_token_ = std::exchange(other.track_token_, 0);
            unlink_called_ = std::exchange(other.unlink_called_, true);
        }
        return *this;
    }

    ~SharedMemory() { release(); }

    // The name another process passes to attach, without a leading '/'.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

    // Bytes mapped: the requested size, or the segment's size when attached.
    [[nodiscard]] std::size_t size() const noexcept { return mapping_.size; }

    // Python's .buf. Throws ClosedError after close().
    [[nodiscard]] std::span<std::byte> buf() {
        check_open();
        return {static_cast<std::byte*>(mapping_.region.get_address()), mapping_.size};
    }
    [[nodiscard]] std::span<const std::byte> buf() const {
        check_open();
        return {static_cast<const std::byte*>(mapping_.region.get_address()), mapping_.size};
    }

    [[nodiscard]] bool closed() const noexcept { return mapping_.region.get_address() == nullptr; }

    // Which segment this is (device and inode on POSIX), to notice a name
    // that now stands for a different segment.
    [[nodiscard]] const detail::os::Identity& identity() const noexcept {
        return mapping_.identity;
    }

    // True while destroying this object will unlink the segment.
    [[nodiscard]] bool owns_name() const noexcept {
        return !unlink_called_ && creator_pid_ != no_pid &&
               creator_pid_ == detail::os::current_pid();
    }

    // Unmaps this process's view. Idempotent; the segment itself lives on.
    void close() noexcept { mapping_ = detail::os::Mapping{}; }

    // Removes the name so no new process can attach; existing mappings stay
    // valid. Idempotent. Like Python, the first call on a name someone else
    // already removed raises FileNotFoundError.
    void unlink() {
        if (unlink_called_) return;
        unlink_called_ = true;
        if (const int err = detail::os::unlink_segment(name_); err != 0) {
            detail::throw_os_error(name_, "cannot unlink", err);
        }
        detail::os::untrack_segment(track_token_, identity_);
    }

    friend std::ostream& operator<<(std::ostream& os, const SharedMemory& shm) {
        return os << "SharedMemory('" << shm.name_ << "', size=" << shm.size() << ')';
    }

    // Largest size accepted on create; beyond it no mapping can succeed.
    static constexpr std::size_t max_size = static_cast<std::size_t>(PTRDIFF_MAX);

  private:
    using pid_type = detail::os::pid_type;
    static constexpr pid_type no_pid = 0;

    void create(const std::string& name, const Options& options) {
        mapping_ = detail::os::create_segment(name, options.size, options.mode);
        identity_ = mapping_.identity;
        name_ = name;
        creator_pid_ = options.track ? detail::os::current_pid() : no_pid;
        if (options.track) track_token_ = detail::os::track_segment(name_, identity_);
    }

    void attach(const std::string& name, bool allow_foreign_owner = false) {
        detail::validate_name(name);
        mapping_ = detail::os::open_segment(name, allow_foreign_owner);
        identity_ = mapping_.identity;
        name_ = name;
    }

    void check_open() const {
        if (closed()) {
            throw ClosedError(detail::segment_message(name_, "cannot access", "it was closed"));
        }
    }

    // Unlinks only in the creating process: a fork()ed child's copy of the
    // object must not remove its parent's segment. Errors are ignored: a peer
    // (or CPython's resource tracker) may have unlinked the name already.
    // Nor a name that now stands for another segment (unlinked by someone
    // else and made again): that one is not ours to remove.
    void release() noexcept {
        if (owns_name()) {
            const auto now = detail::os::identity_of_name(name_);
            if (now && *now == identity_) (void)detail::os::unlink_segment(name_);
            detail::os::untrack_segment(track_token_, identity_);
        }
        unlink_called_ = true;
        close();
    }

    std::string name_;
    detail::os::Mapping mapping_;
    detail::os::Identity identity_;  // kept after close(), to check the name before unlinking
    pid_type creator_pid_ = no_pid;  // set only when this object must unlink
    std::uint32_t track_token_ = 0;  // the segment tracker's slot, 0 if none
    bool unlink_called_ = false;
};

}  // namespace mpshm
