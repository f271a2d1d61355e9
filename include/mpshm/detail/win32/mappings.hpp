// mpshm: which named segment an address of this process lies in, and the
// kernel objects this process opened for what that segment holds (Win32).
// SPDX-License-Identifier: MIT
#pragma once

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace mpshm::detail::win32 {

// Where a shared word is, as every process names it: its segment's name and
// its offset in that segment. Kernel objects for the word (a lock's mutex,
// a waiter's event) are named after it, since addresses differ between
// processes.
struct WordPlace {
    std::string segment;
    std::size_t offset = 0;
};

// Every segment this process maps, by address. Each Mapping registers itself
// while it is mapped (see segment.hpp). Kernel handles opened for objects in
// a segment are kept here, per mapping, and closed when it is unmapped: a
// process holds a lock's kernel mutex open exactly as long as it maps the
// lock.
class MappedSegments {
  public:
    // Never destroyed: segments with static storage unregister at exit.
    static MappedSegments& instance() {
        static auto* const registry = new MappedSegments;
        return *registry;
    }

    MappedSegments(const MappedSegments&) = delete;
    MappedSegments& operator=(const MappedSegments&) = delete;
    MappedSegments(MappedSegments&&) = delete;
    MappedSegments& operator=(MappedSegments&&) = delete;

    // Returns a token for remove(): a later mapping at the same address has
    // another, so a late remove() of the old one cannot drop the new one.
    std::uint64_t add(const void* base, std::size_t size, std::string name) {
        const std::lock_guard lock(mutex_);
        const std::uint64_t token = ++last_token_;
        Entry& e = entries_[address(base)];
        close_handles(e);
        e = Entry{token, size, std::move(name), {}};
        return token;
    }

    void remove(const void* base, std::uint64_t token) noexcept {
        const std::lock_guard lock(mutex_);
        const auto it = entries_.find(address(base));
        if (it == entries_.end() || it->second.token != token) return;
        close_handles(it->second);
        entries_.erase(it);
    }

    // The segment and offset of ADDRESS, if it lies in a mapped segment.
    std::optional<WordPlace> place_of(const void* address_in) {
        const std::lock_guard lock(mutex_);
        std::size_t offset = 0;
        const Entry* e = find(address_in, offset);
        if (e == nullptr) return std::nullopt;
        return WordPlace{e->name, offset};
    }

    // The handle this process keeps for the object at ADDRESS, opened by
    // OPEN() (a HANDLE, or nullptr after SetLastError) the first time.
    // Objects outside any segment (a test's private memory) keep theirs for
    // the life of the process, by KEY, which names their kernel object.
    template <typename Open>
    HANDLE handle_for(const void* address_in, std::string_view key, Open&& open) {
        const std::lock_guard lock(mutex_);
        std::size_t offset = 0;
        if (Entry* e = find(address_in, offset)) return lookup(e->handles, offset, open);
        return lookup(private_handles_, std::string(key), open);
    }

  private:
    MappedSegments() = default;
    ~MappedSegments() = default;

    struct Entry {
        std::uint64_t token = 0;
        std::size_t size = 0;
        std::string name;
        std::map<std::size_t, HANDLE> handles;  // by offset in the segment
    };

    static std::uintptr_t address(const void* p) noexcept {
        return reinterpret_cast<std::uintptr_t>(p);
    }

    template <typename Key, typename Open>
    static HANDLE lookup(std::map<Key, HANDLE>& handles, const Key& key, Open& open) {
        if (const auto it = handles.find(key); it != handles.end()) return it->second;
        HANDLE h = open();
        if (h != nullptr) handles.emplace(key, h);
        return h;
    }

    static void close_handles(Entry& e) noexcept {
        for (const auto& [offset, h] : e.handles) ::CloseHandle(h);
        e.handles.clear();
    }

    // The mapping holding P, and P's OFFSET in it; nullptr if none does.
    Entry* find(const void* p, std::size_t& offset) {
        const std::uintptr_t a = address(p);
        auto it = entries_.upper_bound(a);
        if (it == entries_.begin()) return nullptr;
        --it;
        if (a - it->first >= it->second.size) return nullptr;
        offset = static_cast<std::size_t>(a - it->first);
        return &it->second;
    }

    std::mutex mutex_;
    std::map<std::uintptr_t, Entry> entries_;        // by base address
    std::map<std::string, HANDLE> private_handles_;  // by key
    std::uint64_t last_token_ = 0;
};

// Held by a Mapping while it is mapped. Move-only.
class MappingRegistration {
  public:
    MappingRegistration() = default;
    MappingRegistration(const void* base, std::size_t size, std::string name)
        : base_(base), token_(MappedSegments::instance().add(base, size, std::move(name))) {}
    MappingRegistration(const MappingRegistration&) = delete;
    MappingRegistration& operator=(const MappingRegistration&) = delete;
    MappingRegistration(MappingRegistration&& other) noexcept
        : base_(std::exchange(other.base_, nullptr)), token_(std::exchange(other.token_, 0)) {}
    MappingRegistration& operator=(MappingRegistration&& other) noexcept {
        if (this != &other) {
            reset();
            base_ = std::exchange(other.base_, nullptr);
            token_ = std::exchange(other.token_, 0);
        }
        return *this;
    }
    ~MappingRegistration() { reset(); }

  private:
    void reset() noexcept {
        if (base_ != nullptr) MappedSegments::instance().remove(base_, token_);
        base_ = nullptr;
        token_ = 0;
    }

    const void* base_ = nullptr;
    std::uint64_t token_ = 0;
};

}  // namespace mpshm::detail::win32
