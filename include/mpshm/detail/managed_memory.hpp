// mpshm: the heap inside a Manager's segment: Boost.Interprocess's segment
// manager, its allocators and containers, and how C++ values are stored there.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/string.hpp>
#include <boost/interprocess/containers/vector.hpp>
#include <boost/interprocess/indexes/iset_index.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <mpshm/type_tag.hpp>

namespace mpshm::detail {

namespace bip = boost::interprocess;

// Boost's segment manager guards its allocator with an interprocess mutex
// that is not robust: a process killed inside an allocation would wedge
// every other. So it runs with null_mutex_family, and every operation on a
// Manager's memory takes the Manager's own robust lock instead. The heap
// lives in an external buffer (the data area of an mpshm segment, after its
// checked header) rather than in managed_shared_memory, so that the header
// and the robust lock sit at fixed places before it.
using ManagedHeap =
    bip::basic_managed_external_buffer<char, bip::rbtree_best_fit<bip::null_mutex_family>,
                                       bip::iset_index>;
using HeapManager = ManagedHeap::segment_manager;

template <typename T>
using HeapAllocator = bip::allocator<T, HeapManager>;

using HeapString = bip::basic_string<char, std::char_traits<char>, HeapAllocator<char>>;

template <typename T>
using HeapVector = bip::vector<T, HeapAllocator<T>>;

// How a C++ value becomes the bytes of one element and back: trivially
// copyable values as their bytes, std::string as its characters.
template <typename T>
struct element_codec {
    static_assert(Shareable<T>,
                  "mpshm: managed containers hold std::string or trivially copyable types without "
                  "pointers");
    static constexpr std::uint32_t size = sizeof(T);  // 0: each element sized on its own
    static std::string_view bytes(const T& x) {
        return {reinterpret_cast<const char*>(&x), sizeof(T)};
    }
    static T make(std::string_view b) {
        T x;
        std::memcpy(&x, b.data(), sizeof(T));
        return x;
    }
};

template <>
struct element_codec<std::string> {
    static constexpr std::uint32_t size = 0;
    static std::string_view bytes(const std::string& x) { return x; }
    static std::string make(std::string_view b) { return std::string(b); }
};

// A sequence of elements in the heap, in a form that needs no C++ type to
// copy: fixed-size elements packed in one buffer, or one string each. This
// is what lets any process rebuild the heap after a death (see ManagerCore).
struct Column {
    Column(std::uint32_t element_size, HeapManager* heap)
        : elem_size(element_size),
          fixed(HeapAllocator<char>(heap)),
          strings(HeapAllocator<HeapString>(heap)) {}

    std::uint32_t elem_size;  // 0: strings
    HeapVector<char> fixed;
    HeapVector<HeapString> strings;

    [[nodiscard]] std::size_t size() const {
        return elem_size != 0 ? fixed.size() / elem_size : strings.size();
    }

    [[nodiscard]] std::string_view get(std::size_t i) const {
        if (elem_size != 0) return {fixed.data() + i * elem_size, elem_size};
        return {strings[i].data(), strings[i].size()};
    }

    // Each of these either completes or, if the heap is full, changes nothing.
    // Strings move only by swap(): Boost 1.74's vector::erase and insert
    // shift them by move assignment, which leaks a buffer per call.
    void insert(std::size_t i, std::string_view b, HeapManager* heap) {
        if (elem_size != 0) {
            const auto at = fixed.begin() + static_cast<std::ptrdiff_t>(i * elem_size);
            fixed.insert(at, b.begin(), b.end());
        } else {
            strings.emplace_back(b.data(), b.size(), HeapAllocator<char>(heap));
            for (std::size_t k = strings.size() - 1; k > i; --k) strings[k].swap(strings[k - 1]);
        }
    }
    void push_back(std::string_view b, HeapManager* heap) { insert(size(), b, heap); }
    void set(std::size_t i, std::string_view b, HeapManager* heap) {
        if (elem_size != 0) {
            std::memcpy(fixed.data() + i * elem_size, b.data(), elem_size);
        } else {
            HeapString made(b.data(), b.size(), HeapAllocator<char>(heap));
            strings[i].swap(made);
        }
    }
    void erase(std::size_t i) {
        if (elem_size != 0) {
            const auto at = fixed.begin() + static_cast<std::ptrdiff_t>(i * elem_size);
            fixed.erase(at, at + elem_size);
        } else {
            for (std::size_t k = i; k + 1 < strings.size(); ++k) strings[k].swap(strings[k + 1]);
            strings.pop_back();
        }
    }
    void truncate(std::size_t n) {
        if (elem_size != 0) {
            fixed.resize(n * elem_size);
        } else {
            while (strings.size() > n) strings.pop_back();
        }
    }
    void reserve(std::size_t n) {
        if (elem_size != 0) {
            fixed.reserve(n * elem_size);
        } else {
            strings.reserve(n);
        }
    }
    void swap_elements(std::size_t i, std::size_t j) {
        if (i == j) return;
        if (elem_size != 0) {
            std::swap_ranges(fixed.begin() + static_cast<std::ptrdiff_t>(i * elem_size),
                             fixed.begin() + static_cast<std::ptrdiff_t>((i + 1) * elem_size),
                             fixed.begin() + static_cast<std::ptrdiff_t>(j * elem_size));
        } else {
            strings[i].swap(strings[j]);
        }
    }
    void clear() {
        fixed.clear();
        strings.clear();
    }
};

enum class ContainerKind : std::uint32_t { list = 1, dict = 2 };

// A List or Dict in the heap. The tag names its element types, which
// attach() checks: List<int> and List<double> never read each other.
struct ContainerObject {
    ContainerObject(std::uint64_t type_tag, ContainerKind container_kind, std::uint32_t key_size,
                    std::uint32_t value_size, HeapManager* heap)
        : tag(type_tag), kind(container_kind), keys(key_size, heap), values(value_size, heap) {}
    std::uint64_t tag;
    ContainerKind kind;
    Column keys;    // Dict only
    Column values;  // a List's elements, a Dict's values
};

template <typename T>
constexpr std::uint64_t list_tag() {
    return type_tag<T>::value ^ 0x4c69737400000000ULL;
}
template <typename K, typename V>
constexpr std::uint64_t dict_tag() {
    return (type_tag<K>::value * 31U) ^ type_tag<V>::value ^ 0x4469637400000000ULL;
}

// Bookkeeping at the start of a Manager's data area, before the heap.
struct ManagerState {
    std::uint64_t heap_offset;  // from the data area's start
    std::uint64_t heap_size;
    std::uint64_t next_object;  // names the next container: "c1", "c2", ...
    std::uint64_t generation;   // counts rebuilds of the heap: handles find their objects again
    std::uint32_t damaged;      // set if a rebuild failed
    std::uint32_t reserved;
};

}  // namespace mpshm::detail
