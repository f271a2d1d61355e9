// mpshm: Manager, with shared lists and dicts that live in shared memory
// (Python's multiprocessing.managers: SyncManager, ListProxy, DictProxy).
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mpshm/array.hpp>
#include <mpshm/detail/basic_lock.hpp>
#include <mpshm/detail/compound_ops.hpp>
#include <mpshm/detail/managed_memory.hpp>
#include <mpshm/detail/python_repr.hpp>
#include <mpshm/detail/shared_segment.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/lock.hpp>
#include <mpshm/queues.hpp>
#include <mpshm/shared_memory.hpp>
#include <mpshm/synchronize.hpp>
#include <mpshm/value.hpp>

namespace mpshm {

struct ManagerOptions {
    // Bytes of heap for the Manager's lists and dicts. The segment is sparse:
    // pages cost memory only once written.
    std::size_t capacity = std::size_t{64} << 20U;
    std::optional<std::string> name = std::nullopt;
    bool track = true;
    unsigned mode = 0600;
};

namespace detail {

inline constexpr std::size_t manager_state_bytes = 64;     // ManagerState, padded; the heap follows
inline constexpr std::size_t manager_min_capacity = 4096;  // bytes of heap, at least

// What every handle to one Manager shares within a process: the segment,
// the heap inside it, and the Manager's robust lock.
class ManagerCore {
  public:
    static std::shared_ptr<ManagerCore> create(const ManagerOptions& options) {
        if (options.capacity < manager_min_capacity) {
            throw std::invalid_argument("mpshm: a Manager needs a capacity of at least " +
                                        std::to_string(manager_min_capacity) + " bytes");
        }
        auto segment = SharedSegment::create(
            layout(), manager_state_bytes + options.capacity, {},
            SegmentOptions{.name = options.name, .track = options.track, .mode = options.mode},
            [&](std::byte* data) {
                auto* state = reinterpret_cast<ManagerState*>(data);
                state->heap_offset = manager_state_bytes;
                state->heap_size = options.capacity;
                ManagedHeap heap(bip::create_only, data + manager_state_bytes, options.capacity);
            });
        return std::make_shared<ManagerCore>(std::move(segment));
    }

    // Checks what can be checked without following a pointer: the header,
    // where the heap is and how large, and that Boost's own record of the
    // heap's size agrees. The heap's insides (offset pointers in Boost's
    // free tree and name index) are trusted: a segment damaged there by
    // something other than mpshm can still crash the processes using it.
    static std::shared_ptr<ManagerCore> attach(std::string_view name) {
        auto segment = SharedSegment::attach(name, layout());
        const auto corrupt = [&](const std::string& why) {
            throw CorruptSegmentError(segment_message(name, "cannot attach as Manager", why));
        };
        const auto* state = reinterpret_cast<const ManagerState*>(segment->data());
        if (segment->count() < manager_state_bytes + manager_min_capacity ||
            state->heap_offset != manager_state_bytes ||
            state->heap_size != segment->count() - manager_state_bytes) {
            corrupt("its heap does not fit its segment");
        }
        auto core = std::make_shared<ManagerCore>(std::move(segment));
        if (core->heap_.get_size() != state->heap_size ||
            core->heap_.get_free_memory() > state->heap_size) {
            corrupt("its heap's own record of its size is damaged");
        }
        return core;
    }

    explicit ManagerCore(std::shared_ptr<SharedSegment> segment)
        : segment_(std::move(segment)),
          state_(reinterpret_cast<ManagerState*>(segment_->data())),
          heap_(bip::open_only, segment_->data() + state_->heap_offset, state_->heap_size),
          lock_(LockAccess<RLock>::embedded_in(segment_)) {}

    [[nodiscard]] const std::string& name() const noexcept { return segment_->name(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return state_->heap_size; }
    [[nodiscard]] RLock& lock() noexcept { return lock_; }
    [[nodiscard]] HeapManager* heap() noexcept { return heap_.get_segment_manager(); }

    // Runs F under the Manager's lock. A full heap becomes MemoryError, after
    // F has undone what it started. If the last holder died holding the lock,
    // it may have died inside an allocation, with Boost's allocator half-way
    // through a change that no check can see (a free block taken out of the
    // free tree and never put back loses the rest of the heap): so the heap
    // is rebuilt first, from the containers it holds.
    template <typename F>
    decltype(auto) locked(F&& f) {
        const std::lock_guard hold(lock_);
        // Counted in the header, so that the recovery is acted on once,
        // whichever acquisition (nested, another handle's) made it.
        auto& header = segment_->header();
        const std::uint32_t recoveries = header.recovery_count().load(std::memory_order_relaxed);
        if (header.repaired != recoveries) {
            rebuild();
            header.repaired = recoveries;
        }
        if (state_->damaged != 0) {
            throw CorruptSegmentError(
                segment_message(name(), "cannot use Manager",
                                "its heap could not be rebuilt after a process died in it"));
        }
        try {
            return std::forward<F>(f)();
        } catch (const bip::bad_alloc&) {
            throw MemoryError(
                segment_message(name(), "out of memory",
                                "the Manager's " + std::to_string(capacity()) +
                                    " bytes are full (ManagerOptions::capacity sets the size)"));
        }
    }

    [[nodiscard]] std::size_t free_memory() {
        return locked([&] { return static_cast<std::size_t>(heap_.get_free_memory()); });
    }

    // Makes a new container (under the lock) and returns its name.
    std::string make(std::uint64_t tag, ContainerKind kind, std::uint32_t key_size,
                     std::uint32_t value_size) {
        return locked([&] {
            std::string object = "c" + std::to_string(state_->next_object + 1);
            heap_.construct<ContainerObject>(object.c_str())(tag, kind, key_size, value_size,
                                                             heap());
            ++state_->next_object;
            return object;
        });
    }

    // Finds container OBJECT (under the lock), checking its kind and types.
    ContainerObject* find(std::string_view object, std::uint64_t tag, const char* what) {
        const std::string key(object);
        ContainerObject* found = heap_.find<ContainerObject>(key.c_str()).first;
        if (found == nullptr) {
            throw FileNotFoundError(
                segment_message(name(), "cannot attach",
                                "it holds no " + std::string(what) + " named '" + key + "'"),
                std::make_error_code(std::errc::no_such_file_or_directory));
        }
        if (found->tag != tag) {
            throw TypeMismatchError(
                segment_message(name(), "cannot attach as " + std::string(what),
                                "'" + key + "' holds another kind or other element types"));
        }
        return found;
    }

    [[nodiscard]] std::uint64_t generation() const noexcept { return state_->generation; }

  private:
    static Layout layout() {
        return {Kind::manager,         LockKind::rlock, 1,        1,
                0x4d616e6167657232ULL, std::nullopt,    "Manager"};
    }

    struct SavedColumn {
        std::uint32_t elem_size = 0;
        std::vector<std::string> elements;
    };
    struct SavedObject {
        std::string name;
        std::uint64_t tag = 0;
        ContainerKind kind = ContainerKind::list;
        SavedColumn keys;
        SavedColumn values;
    };

    // Copies a column out, skipping what a process killed in the middle of
    // changing it may have left pointing outside the heap.
    SavedColumn save(const Column& column) const {
        const auto* low = reinterpret_cast<const char*>(segment_->data() + state_->heap_offset);
        const auto* high = low + state_->heap_size;
        const auto inside = [&](const char* p, std::size_t n) {
            return n == 0 || (p >= low && p <= high && n <= static_cast<std::size_t>(high - p));
        };
        SavedColumn saved{column.elem_size, {}};
        if (column.elem_size != 0) {
            if (!inside(column.fixed.data(), column.fixed.size())) return saved;
            for (std::size_t i = 0; i < column.size(); ++i)
                saved.elements.emplace_back(column.get(i));
        } else {
            if (!inside(reinterpret_cast<const char*>(column.strings.data()),
                        column.strings.size() * sizeof(HeapString))) {
                return saved;
            }
            for (std::size_t i = 0; i < column.strings.size(); ++i) {
                const auto& s = column.strings[i];
                // A short string lives inside the element itself, a long one
                // in the heap; an element half made or half moved by the dead
                // process may point anywhere else, null included.
                const auto* self = reinterpret_cast<const char*>(&s);
                const bool in_self = s.data() >= self && s.size() < sizeof(HeapString) &&
                                     s.data() + s.size() <= self + sizeof(HeapString);
                if (in_self || (s.data() != nullptr && inside(s.data(), s.size())))
                    saved.elements.emplace_back(s.data(), s.size());
            }
        }
        return saved;
    }
    void restore(const SavedColumn& saved, Column& column) {
        column.reserve(saved.elements.size());
        for (const auto& e : saved.elements) column.push_back(e, heap());
    }

    // Copies every container out, makes the heap anew in the same place, and
    // puts them back under their names. Containers need no C++ type for this
    // (see Column), so any process can do it. Runs under the lock.
    void rebuild() {
        try {
            std::vector<SavedObject> saved;
            for (auto it = heap()->named_begin(); it != heap()->named_end(); ++it) {
                const auto* object = static_cast<const ContainerObject*>(it->value());
                saved.push_back({std::string(it->name(), it->name_length()), object->tag,
                                 object->kind, save(object->keys), save(object->values)});
            }
            // From here until all is restored, the containers exist only in
            // this process: if it dies too, the next user is told, not misled.
            state_->damaged = 1;
            std::byte* base = segment_->data() + state_->heap_offset;
            heap_ = ManagedHeap(bip::create_only, base, state_->heap_size);
            for (const auto& s : saved) {
                auto* object = heap_.construct<ContainerObject>(s.name.c_str())(
                    s.tag, s.kind, s.keys.elem_size, s.values.elem_size, heap());
                restore(s.keys, object->keys);
                restore(s.values, object->values);
            }
            ++state_->generation;
            state_->damaged = 0;
        } catch (...) {
            state_->damaged = 1;
        }
    }

    std::shared_ptr<SharedSegment> segment_;
    ManagerState* state_;
    ManagedHeap heap_;
    RLock lock_;
};

// "manager/object" -> the two names. '/' never occurs in a segment name.
inline std::pair<std::string_view, std::string_view> split_object_name(std::string_view full) {
    const auto slash = full.find('/');
    if (slash == std::string_view::npos) {
        throw std::invalid_argument(
            "mpshm: '" + std::string(full) +
            "' is not the name of a Manager's list or dict (manager/object)");
    }
    return {full.substr(0, slash), full.substr(slash + 1)};
}

// Python's list index rules: negative counts from the end; outside is IndexError.
inline std::size_t list_index(std::ptrdiff_t i, std::size_t size, const std::string& where) {
    const auto n = static_cast<std::ptrdiff_t>(size);
    const std::ptrdiff_t j = i < 0 ? i + n : i;
    if (j < 0 || j >= n) {
        throw std::out_of_range("mpshm: " + where + ": list index " + std::to_string(i) +
                                " out of range for length " + std::to_string(size));
    }
    return static_cast<std::size_t>(j);
}

// Python's slice bound rules: negative counts from the end, then clamped.
inline std::size_t clamp_index(std::ptrdiff_t i, std::size_t size) {
    const auto n = static_cast<std::ptrdiff_t>(size);
    if (i < 0) i += n;
    return static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, n));
}

template <typename T>
std::string repr_of(const T& x) {
    std::ostringstream out;
    write_python_repr(out, x);
    return out.str();
}

}  // namespace detail

class Manager;

namespace detail {

// What List and Dict share: their Manager, their object's name, and the
// object itself, found again whenever the heap was rebuilt.
class ContainerHandle {
  public:
    ContainerHandle(std::shared_ptr<ManagerCore> core, std::string object, std::uint64_t tag,
                    const char* what)
        : core_(std::move(core)), object_(std::move(object)), tag_(tag), what_(what) {}

    // "manager/object": what another process passes to attach().
    [[nodiscard]] std::string name() const { return core_->name() + "/" + object_; }

  protected:
    // Runs F(object) under the Manager's lock.
    template <typename F>
    decltype(auto) with_object(F&& f) const {
        return core_->locked([&]() -> decltype(auto) { return f(object()); });
    }
    [[nodiscard]] HeapManager* heap() const { return core_->heap(); }

  private:
    ContainerObject& object() const {
        if (cached_ == nullptr || generation_ != core_->generation()) {
            cached_ = core_->find(object_, tag_, what_);
            generation_ = core_->generation();
        }
        return *cached_;
    }

    std::shared_ptr<ManagerCore> core_;
    std::string object_;
    std::uint64_t tag_;
    const char* what_;
    mutable ContainerObject* cached_ = nullptr;
    mutable std::uint64_t generation_ = 0;
};

}  // namespace detail

// Python's ListProxy (manager.list()), kept in the Manager's shared memory:
// every method is one step under the Manager's robust lock, with no server
// round trip. `lst[i] += 1` is atomic (Python's is a read and a write).
// Pass it to a Process like any shared object; List<T>::attach(lst.name())
// reaches it from anywhere.
template <typename T>
class List : public detail::ContainerHandle {
    using Codec = detail::element_codec<T>;
    using Column = detail::Column;

  public:
    using value_type = T;

    // One element, looked up by index at every access, as Python does.
    class reference : public detail::CompoundOps<reference, T> {
      public:
        operator T() const { return list_->get(index_); }  // NOLINT: a proxy converts implicitly
        reference& operator=(const T& x) {
            list_->set(index_, x);
            return *this;
        }
        // A proxy assigns the value it refers to: x = x reads it and writes it
        // back, which is harmless.
        // NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
        reference& operator=(const reference& other) { return *this = static_cast<T>(other); }
        reference(const reference&) = default;
        ~reference() = default;
        [[nodiscard]] T load() const { return list_->get(index_); }
        friend std::ostream& operator<<(std::ostream& os, const reference& r) {
            detail::write_python_repr(os, r.load());
            return os;
        }

      private:
        friend class List;
        friend class detail::CompoundOps<reference, T>;
        reference(List* list, std::ptrdiff_t index) : list_(list), index_(index) {}
        template <typename Op>
        T update(Op op) {
            return list_->with_values([&](Column& c) {
                const std::size_t i = list_->at_index(c, index_);
                const T next = op(Codec::make(c.get(i)));
                c.set(i, Codec::bytes(next), list_->heap());
                return next;
            });
        }
        T add(T x) {
            return update([x](T v) { return detail::wrap_add(v, x); });
        }
        List* list_;
        std::ptrdiff_t index_;
    };

    // Iterates over a snapshot taken when iteration begins.
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using reference = const T&;
        using pointer = const T*;
        iterator() = default;
        const T& operator*() const { return (*snapshot_)[index_]; }
        iterator& operator++() {
            ++index_;
            return *this;
        }
        iterator operator++(int) {
            iterator old = *this;
            ++index_;
            return old;
        }
        friend bool operator==(const iterator& it, std::default_sentinel_t) {
            return it.index_ == it.snapshot_->size();
        }

      private:
        friend class List;
        explicit iterator(std::shared_ptr<const std::vector<T>> snapshot)
            : snapshot_(std::move(snapshot)) {}
        std::shared_ptr<const std::vector<T>> snapshot_;
        std::size_t index_ = 0;
    };

    static List attach(std::string_view name) {
        // Not a structured binding: clang 14 cannot capture one in a lambda.
        const auto names = detail::split_object_name(name);
        const std::string_view manager = names.first;
        const std::string_view object = names.second;
        auto core = detail::ManagerCore::attach(manager);
        core->locked([&] { return core->find(object, tag(), "List"); });
        return List(std::move(core), std::string(object));
    }

    [[nodiscard]] std::size_t size() const {
        return with_values([](Column& c) { return c.size(); });
    }
    [[nodiscard]] bool empty() const { return size() == 0; }

    void append(const T& x) {
        with_values([&](Column& c) { c.push_back(Codec::bytes(x), heap()); });
    }

    // All or nothing when the Manager runs out of room.
    void extend(std::span<const T> xs) {
        with_values([&](Column& c) {
            const std::size_t before = c.size();
            try {
                c.reserve(before + xs.size());
                for (const T& x : xs) c.push_back(Codec::bytes(x), heap());
            } catch (...) {
                c.truncate(before);
                throw;
            }
        });
    }
    void extend(std::initializer_list<T> xs) { extend(std::span<const T>(xs.begin(), xs.size())); }
    void extend(const List& other) {
        const std::vector<T> xs = other.to_vector();
        extend(std::span<const T>(xs));
    }

    // Python: insert(i, x): i clamped, negative from the end.
    void insert(std::ptrdiff_t i, const T& x) {
        with_values([&](Column& c) {
            c.insert(detail::clamp_index(i, c.size()), Codec::bytes(x), heap());
        });
    }

    // Python: pop(i=-1). std::out_of_range when empty or out of range.
    T pop(std::ptrdiff_t i = -1) {
        return with_values([&](Column& c) {
            if (c.size() == 0)
                throw std::out_of_range("mpshm: " + name() + ": pop from empty list");
            const std::size_t at = at_index(c, i);
            T out = Codec::make(c.get(at));
            c.erase(at);
            return out;
        });
    }

    // Python: remove(x): the first equal element; std::invalid_argument if none.
    void remove(const T& x) {
        with_values([&](Column& c) {
            const auto found = find_in(c, x, 0, c.size());
            if (!found)
                throw std::invalid_argument("mpshm: " + name() + ": list.remove(x): x not in list");
            c.erase(*found);
        });
    }

    // Python: index(x, start, stop); std::invalid_argument if absent.
    [[nodiscard]] std::size_t index(const T& x, std::ptrdiff_t start = 0,
                                    std::ptrdiff_t stop = PTRDIFF_MAX) const {
        return with_values([&](Column& c) {
            const auto found = find_in(c, x, detail::clamp_index(start, c.size()),
                                       detail::clamp_index(stop, c.size()));
            if (!found)
                throw std::invalid_argument("mpshm: " + name() + ": " + detail::repr_of(x) +
                                            " is not in list");
            return *found;
        });
    }

    [[nodiscard]] std::size_t count(const T& x) const {
        return with_values([&](Column& c) {
            std::size_t n = 0;
            for (std::size_t i = 0; i < c.size(); ++i) n += Codec::make(c.get(i)) == x ? 1 : 0;
            return n;
        });
    }
    [[nodiscard]] bool contains(const T& x) const { return count(x) != 0; }

    void reverse() {
        with_values([](Column& c) {
            for (std::size_t i = 0, n = c.size(); i < n / 2; ++i) c.swap_elements(i, n - 1 - i);
        });
    }

    // Python: sort(reverse=False), stable, by operator<. Moves elements by
    // swapping, so it never allocates and cannot run out of room.
    void sort(bool reverse = false) {
        with_values([&](Column& c) {
            std::vector<T> values;
            for (std::size_t i = 0; i < c.size(); ++i) values.push_back(Codec::make(c.get(i)));
            std::vector<std::size_t> order(values.size());
            for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
            std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
                return reverse ? values[b] < values[a] : values[a] < values[b];
            });
            // Apply the permutation: place[i] is where the element now at i is.
            std::vector<std::size_t> where(order.size()), at(order.size());
            for (std::size_t i = 0; i < order.size(); ++i) where[i] = at[i] = i;
            for (std::size_t target = 0; target < order.size(); ++target) {
                const std::size_t from = where[order[target]];
                c.swap_elements(target, from);
                const std::size_t displaced = at[target];
                where[displaced] = from;
                at[from] = displaced;
                where[order[target]] = target;
                at[target] = order[target];
            }
        });
    }

    void clear() {
        with_values([](Column& c) { c.clear(); });
    }

    // Python's lst[i]: reads, writes and `op=` are each one locked step.
    reference operator[](std::ptrdiff_t i) { return reference(this, i); }
    T operator[](std::ptrdiff_t i) const { return get(i); }
    // Like operator[], but checks the index now.
    reference at(std::ptrdiff_t i) {
        (void)get(i);
        return reference(this, i);
    }

    [[nodiscard]] T get(std::ptrdiff_t i) const {
        return with_values([&](Column& c) { return Codec::make(c.get(at_index(c, i))); });
    }
    void set(std::ptrdiff_t i, const T& x) {
        with_values([&](Column& c) { c.set(at_index(c, i), Codec::bytes(x), heap()); });
    }

    // Python's lst[start:stop], and list(lst).
    [[nodiscard]] std::vector<T> slice(std::ptrdiff_t start, std::ptrdiff_t stop) const {
        return with_values([&](Column& c) {
            const std::size_t b = detail::clamp_index(start, c.size());
            const std::size_t e = detail::clamp_index(stop, c.size());
            std::vector<T> out;
            for (std::size_t i = b; i < e; ++i) out.push_back(Codec::make(c.get(i)));
            return out;
        });
    }
    [[nodiscard]] std::vector<T> to_vector() const { return slice(0, PTRDIFF_MAX); }

    iterator begin() const { return iterator(std::make_shared<const std::vector<T>>(to_vector())); }
    std::default_sentinel_t end() const { return {}; }

    // Prints as Python prints a list: [1, 2, 'three'].
    friend std::ostream& operator<<(std::ostream& os, const List& list) {
        const std::vector<T> values = list.to_vector();
        return detail::write_python_list(os, values);
    }

  private:
    friend class Manager;
    List(std::shared_ptr<detail::ManagerCore> core, std::string object)
        : ContainerHandle(std::move(core), std::move(object), tag(), "List") {}

    static constexpr std::uint64_t tag() { return detail::list_tag<T>(); }

    template <typename F>
    decltype(auto) with_values(F&& f) const {
        return with_object(
            [&](detail::ContainerObject& o) -> decltype(auto) { return f(o.values); });
    }
    [[nodiscard]] std::size_t at_index(const Column& c, std::ptrdiff_t i) const {
        return detail::list_index(i, c.size(), name());
    }
    static std::optional<std::size_t> find_in(const Column& c, const T& x, std::size_t b,
                                              std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            if (Codec::make(c.get(i)) == x) return i;
        }
        return std::nullopt;
    }
};

// Python's DictProxy (manager.dict()), kept in the Manager's shared memory,
// in insertion order as Python's dict. Missing keys are std::out_of_range
// (Python's KeyError).
template <typename K, typename V>
class Dict : public detail::ContainerHandle {
    using KeyCodec = detail::element_codec<K>;
    using ValueCodec = detail::element_codec<V>;
    using Object = detail::ContainerObject;

  public:
    using key_type = K;
    using mapped_type = V;

    // d[key]: reading a missing key is std::out_of_range; assigning inserts;
    // `op=` is one locked step on an existing key.
    class reference : public detail::CompoundOps<reference, V> {
      public:
        operator V() const { return dict_->at(key_); }  // NOLINT: a proxy converts implicitly
        reference& operator=(const V& x) {
            dict_->set(key_, x);
            return *this;
        }
        // A proxy assigns the value it refers to: x = x reads it and writes it
        // back, which is harmless.
        // NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
        reference& operator=(const reference& other) { return *this = static_cast<V>(other); }
        reference(const reference&) = default;
        ~reference() = default;
        friend std::ostream& operator<<(std::ostream& os, const reference& r) {
            detail::write_python_repr(os, static_cast<V>(r));
            return os;
        }

      private:
        friend class Dict;
        friend class detail::CompoundOps<reference, V>;
        reference(Dict* dict, K key) : dict_(dict), key_(std::move(key)) {}
        template <typename Op>
        V update(Op op) {
            return dict_->with_object([&](Object& o) {
                const std::size_t i = dict_->position(o, key_);
                const V next = op(ValueCodec::make(o.values.get(i)));
                o.values.set(i, ValueCodec::bytes(next), dict_->heap());
                return next;
            });
        }
        V add(V x) {
            return update([x](V v) { return detail::wrap_add(v, x); });
        }
        Dict* dict_;
        K key_;
    };

    static Dict attach(std::string_view name) {
        // Not a structured binding: clang 14 cannot capture one in a lambda.
        const auto names = detail::split_object_name(name);
        const std::string_view manager = names.first;
        const std::string_view object = names.second;
        auto core = detail::ManagerCore::attach(manager);
        core->locked([&] { return core->find(object, tag(), "Dict"); });
        return Dict(std::move(core), std::string(object));
    }

    [[nodiscard]] std::size_t size() const {
        return with_object([](Object& o) { return o.keys.size(); });
    }
    [[nodiscard]] bool empty() const { return size() == 0; }
    [[nodiscard]] bool contains(const K& key) const {
        return with_object([&](Object& o) { return lookup(o, key).has_value(); });
    }

    reference operator[](const K& key) { return reference(this, key); }

    // d[key] for reading: std::out_of_range if missing.
    [[nodiscard]] V at(const K& key) const {
        return with_object(
            [&](Object& o) { return ValueCodec::make(o.values.get(position(o, key))); });
    }

    // d[key] = value.
    void set(const K& key, const V& value) {
        with_object([&](Object& o) { put(o, key, value); });
    }

    // Python: get(key) and get(key, default).
    [[nodiscard]] std::optional<V> get(const K& key) const {
        return with_object([&](Object& o) -> std::optional<V> {
            const auto i = lookup(o, key);
            return i ? std::optional<V>(ValueCodec::make(o.values.get(*i))) : std::nullopt;
        });
    }
    [[nodiscard]] V get(const K& key, const V& fallback) const {
        return get(key).value_or(fallback);
    }

    // Python: setdefault(key, default): the value, inserting DEFAULT if missing.
    V setdefault(const K& key, const V& fallback) {
        return with_object([&](Object& o) {
            if (const auto i = lookup(o, key)) return ValueCodec::make(o.values.get(*i));
            put(o, key, fallback);
            return fallback;
        });
    }

    // Python: pop(key) (std::out_of_range if missing) and pop(key, default).
    V pop(const K& key) {
        return with_object([&](Object& o) { return take(o, position(o, key)); });
    }
    V pop(const K& key, const V& fallback) {
        return with_object([&](Object& o) {
            const auto i = lookup(o, key);
            return i ? take(o, *i) : fallback;
        });
    }

    // Python: popitem(): the last inserted pair; std::out_of_range if empty.
    std::pair<K, V> popitem() {
        return with_object([&](Object& o) {
            if (o.keys.size() == 0) {
                throw std::out_of_range("mpshm: " + name() + ": popitem(): dictionary is empty");
            }
            const std::size_t last = o.keys.size() - 1;
            K key = KeyCodec::make(o.keys.get(last));
            return std::pair<K, V>(std::move(key), take(o, last));
        });
    }

    // Python: del d[key].
    void erase(const K& key) { (void)pop(key); }

    // Python: update(pairs): applied in order; all or nothing if the Manager
    // runs out of room.
    void update(std::span<const std::pair<K, V>> pairs) {
        with_object([&](Object& o) {
            const std::size_t before = o.keys.size();
            std::vector<std::pair<std::size_t, V>> replaced;  // to undo
            try {
                for (const auto& [key, value] : pairs) {
                    if (const auto i = lookup(o, key)) {
                        replaced.emplace_back(*i, ValueCodec::make(o.values.get(*i)));
                        o.values.set(*i, ValueCodec::bytes(value), heap());
                    } else {
                        append(o, key, value);
                    }
                }
            } catch (...) {
                o.keys.truncate(before);
                o.values.truncate(before);
                for (auto it = replaced.rbegin(); it != replaced.rend(); ++it) {
                    // A key added by this update and then repeated is gone already.
                    if (it->first < before)
                        o.values.set(it->first, ValueCodec::bytes(it->second), heap());
                }
                throw;
            }
        });
    }
    void update(std::initializer_list<std::pair<K, V>> pairs) {
        update(std::span<const std::pair<K, V>>(pairs.begin(), pairs.size()));
    }
    void update(const Dict& other) {
        const auto pairs = other.items();
        update(std::span<const std::pair<K, V>>(pairs));
    }

    void clear() {
        with_object([](Object& o) {
            o.keys.clear();
            o.values.clear();
        });
    }

    // Snapshots, in insertion order.
    [[nodiscard]] std::vector<K> keys() const {
        return with_object([](Object& o) {
            std::vector<K> out;
            for (std::size_t i = 0; i < o.keys.size(); ++i)
                out.push_back(KeyCodec::make(o.keys.get(i)));
            return out;
        });
    }
    [[nodiscard]] std::vector<V> values() const {
        return with_object([](Object& o) {
            std::vector<V> out;
            for (std::size_t i = 0; i < o.values.size(); ++i)
                out.push_back(ValueCodec::make(o.values.get(i)));
            return out;
        });
    }
    [[nodiscard]] std::vector<std::pair<K, V>> items() const {
        return with_object([](Object& o) {
            std::vector<std::pair<K, V>> out;
            for (std::size_t i = 0; i < o.keys.size(); ++i) {
                out.emplace_back(KeyCodec::make(o.keys.get(i)), ValueCodec::make(o.values.get(i)));
            }
            return out;
        });
    }

    // Prints as Python prints a dict: {'a': 1.5, 'b': 2.0}.
    friend std::ostream& operator<<(std::ostream& os, const Dict& dict) {
        const auto pairs = dict.items();
        os << '{';
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            if (i != 0) os << ", ";
            detail::write_python_repr(os, pairs[i].first);
            os << ": ";
            detail::write_python_repr(os, pairs[i].second);
        }
        return os << '}';
    }

  private:
    friend class Manager;
    Dict(std::shared_ptr<detail::ManagerCore> core, std::string object)
        : ContainerHandle(std::move(core), std::move(object), tag(), "Dict") {}

    static constexpr std::uint64_t tag() { return detail::dict_tag<K, V>(); }

    static std::optional<std::size_t> lookup(const Object& o, const K& key) {
        for (std::size_t i = 0; i < o.keys.size(); ++i) {
            if (KeyCodec::make(o.keys.get(i)) == key) return i;
        }
        return std::nullopt;
    }
    std::size_t position(const Object& o, const K& key) const {
        if (const auto i = lookup(o, key)) return *i;
        throw std::out_of_range("mpshm: " + name() + ": KeyError: " + detail::repr_of(key));
    }
    V take(Object& o, std::size_t i) {
        V out = ValueCodec::make(o.values.get(i));
        o.keys.erase(i);
        o.values.erase(i);
        return out;
    }
    // A new key: the key goes in first, and comes out again if its value does not fit.
    void append(Object& o, const K& key, const V& value) {
        o.keys.push_back(KeyCodec::bytes(key), heap());
        try {
            o.values.push_back(ValueCodec::bytes(value), heap());
        } catch (...) {
            o.keys.truncate(o.keys.size() - 1);
            throw;
        }
    }
    void put(Object& o, const K& key, const V& value) {
        if (const auto i = lookup(o, key)) {
            o.values.set(*i, ValueCodec::bytes(value), heap());
        } else {
            append(o, key, value);
        }
    }
};

// Python's multiprocessing.Manager(): but no server process. Its lists and
// dicts live in one shared segment (ManagerOptions::capacity bytes, sparse)
// and are reached directly, orders of magnitude faster than a proxy's
// socket round trip. Another process reaches it with Manager::attach(name),
// or through any list or dict passed to a Process.
class Manager {
  public:
    Manager() : Manager(ManagerOptions{}) {}
    explicit Manager(const ManagerOptions& options) : core_(detail::ManagerCore::create(options)) {}
    static Manager attach(std::string_view name) {
        return Manager(detail::ManagerCore::attach(name));
    }

    [[nodiscard]] const std::string& name() const noexcept { return core_->name(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return core_->capacity(); }
    [[nodiscard]] std::size_t free_memory() const { return core_->free_memory(); }

    // Python: manager.list([...]).
    template <typename T>
    List<T> list(std::initializer_list<T> init = {}) {
        return list<T>(std::span<const T>(init.begin(), init.size()));
    }
    template <typename T>
    List<T> list(std::span<const T> init) {
        List<T> made(core_, core_->make(detail::list_tag<T>(), detail::ContainerKind::list, 0,
                                        detail::element_codec<T>::size));
        made.extend(init);
        return made;
    }

    // Python: manager.dict().
    template <typename K, typename V>
    Dict<K, V> dict(std::initializer_list<std::pair<K, V>> init = {}) {
        Dict<K, V> made(
            core_, core_->make(detail::dict_tag<K, V>(), detail::ContainerKind::dict,
                               detail::element_codec<K>::size, detail::element_codec<V>::size));
        made.update(init);
        return made;
    }

    // Python's manager.Value, Array, Lock, RLock, Event, Queue: here the
    // objects themselves, each in a segment of its own.
    template <typename T>
    mpshm::Value<T> Value(const T& init = T{}) const {
        return mpshm::Value<T>(init);
    }
    template <typename T>
    mpshm::Array<T> Array(std::initializer_list<T> init) const {
        return mpshm::Array<T>(init);
    }
    mpshm::Lock Lock() const { return mpshm::Lock(); }
    mpshm::RLock RLock() const { return mpshm::RLock(); }
    mpshm::Event Event() const { return mpshm::Event(); }
    template <typename T>
    mpshm::Queue<T> Queue(std::size_t maxsize = 0) const {
        return mpshm::Queue<T>(maxsize);
    }

    // Python's shutdown(): there is no server; the segment goes when its
    // creator's last handle does.
    void shutdown() noexcept {}

    // Holds the Manager's lock: several operations as one step.
    [[nodiscard]] std::unique_lock<mpshm::RLock> lock() {
        return std::unique_lock<mpshm::RLock>(core_->lock());
    }

  private:
    explicit Manager(std::shared_ptr<detail::ManagerCore> core) : core_(std::move(core)) {}
    std::shared_ptr<detail::ManagerCore> core_;
};

}  // namespace mpshm
