// mpshm: a shared array, the mirror of Python's multiprocessing.Array and
// RawArray (multiprocessing.sharedctypes).
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <mpshm/detail/cell.hpp>
#include <mpshm/detail/compound_ops.hpp>
#include <mpshm/detail/python_repr.hpp>
#include <mpshm/detail/synchronized.hpp>
#include <mpshm/lock.hpp>
#include <mpshm/shared_memory.hpp>

namespace mpshm {

// The length of an Array chosen at run time.
inline constexpr std::size_t dynamic_extent = std::dynamic_extent;

template <typename T, std::size_t N, typename LockPolicy>
class Array;

// Holds the Array's lock and gives all its elements, for critical sections
// longer than one operation: `auto g = a.lock(); g[0] = g[1] + g[2];`. For
// integers with lock-free operations, g[i] is a reference object whose `+=`
// and friends stay exact beside another process's fetch_add; for other
// types, T&. span(), begin() and end() give the raw elements (for
// algorithms): exact against every locked operation, but not against
// lock-free ones running meanwhile.
template <typename T, typename LockPolicy>
class ArrayGuard {
  public:
    decltype(auto) operator[](std::size_t i) const noexcept {
        return detail::held_element(elements_.data() + i, lockfree_);
    }
    [[nodiscard]] std::span<T> span() const noexcept { return elements_; }
    [[nodiscard]] std::size_t size() const noexcept { return elements_.size(); }
    auto begin() const noexcept { return elements_.begin(); }
    auto end() const noexcept { return elements_.end(); }

  private:
    template <typename, std::size_t, typename>
    friend class Array;
    ArrayGuard(detail::LockHold<LockPolicy> hold, std::span<T> elements,
               const std::uint32_t* lockfree)
        : hold_(std::move(hold)), elements_(elements), lockfree_(lockfree) {}
    detail::LockHold<LockPolicy> hold_;
    std::span<T> elements_;
    const std::uint32_t* lockfree_;
};

// Python's Array(typecode, size_or_initializer, lock=True): N elements of T
// in a segment of its own, zero-filled unless initialised, guarded by a
// robust RLock by default (Lock, a shared lock, or none as for Value).
// Array<T, N> has its length fixed at compile time; Array<T> chooses it at
// run time. Each element access is one atomic step under the lock.
template <typename T, std::size_t N = dynamic_extent, typename LockPolicy = RLock>
class Array : public detail::Synchronized<T, LockPolicy> {
    using Base = detail::Synchronized<T, LockPolicy>;
    static constexpr bool fixed = N != dynamic_extent;

  public:
    using value_type = T;
    using lock_type = LockPolicy;
    using size_type = std::size_t;
    using difference_type = std::ptrdiff_t;

    // A reference to one element: reads, writes and `op=` are each one
    // atomic step under the array's lock.
    class reference : public detail::CompoundOps<reference, T> {
      public:
        operator T() const {
            return array_->load_at(index_);
        }  // NOLINT: a proxy converts implicitly
        reference& operator=(const T& x) {
            array_->store_at(index_, x);
            return *this;
        }
        // A proxy assigns the value it refers to: x = x reads it and writes it
        // back, which is harmless.
        // NOLINTNEXTLINE(bugprone-unhandled-self-assignment)
        reference& operator=(const reference& other) { return *this = static_cast<T>(other); }
        reference(const reference&) = default;
        ~reference() = default;

        [[nodiscard]] T load() const { return array_->load_at(index_); }
        void store(const T& x) { array_->store_at(index_, x); }

        friend std::ostream& operator<<(std::ostream& os, const reference& r) {
            detail::write_python_repr(os, r.load());
            return os;
        }

      private:
        friend class Array;
        friend class detail::CompoundOps<reference, T>;

        // For CompoundOps: one atomic step under the array's lock.
        template <typename Op>
        T update(Op op) {
            return array_->locked_update(array_->data() + index_, op);
        }
        T add(T x) { return array_->locked_add(array_->data() + index_, x); }

        reference(const Array* array, std::size_t index) : array_(array), index_(index) {}
        const Array* array_;
        std::size_t index_;
    };

    // Iterates element references; each dereference is a locked access. For
    // a consistent snapshot use to_vector().
    class iterator {
      public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using reference = Array::reference;
        using pointer = void;

        iterator() = default;
        reference operator*() const { return reference(array_, index_); }
        iterator& operator++() {
            ++index_;
            return *this;
        }
        iterator operator++(int) {
            iterator old = *this;
            ++index_;
            return old;
        }
        friend bool operator==(const iterator& a, const iterator& b) {
            return a.index_ == b.index_;
        }

      private:
        friend class Array;
        iterator(const Array* array, std::size_t index) : array_(array), index_(index) {}
        const Array* array_ = nullptr;
        std::size_t index_ = 0;
    };

    // Python: Array('i', 10): N zeros.
    Array() requires fixed : Array(SegmentOptions{}) {}
    explicit Array(const SegmentOptions& options) requires fixed
        : Base(make(N, {}, nullptr, options), nullptr) {}

    // Python: Array('i', n): n zeros, n chosen at run time.
    explicit Array(std::size_t n, const SegmentOptions& options = {}) requires(!fixed)
        : Base(make(n, {}, nullptr, options), nullptr) {}

    // Python: Array('i', [1, 2, 3]). For Array<T, N> the values fill the
    // front and the rest is zero; more than N values is an error.
    Array(std::initializer_list<T> init, const SegmentOptions& options = {})
        : Base(make(fixed ? N : init.size(), {init.begin(), init.size()}, nullptr, options),
               nullptr) {}

    explicit Array(std::span<const T> init, const SegmentOptions& options = {})
        : Base(make(fixed ? N : init.size(), init, nullptr, options), nullptr) {}

    // Python's lock= argument: guarded by an existing, possibly shared lock.
    explicit Array(const LockPolicy& shared_lock, const SegmentOptions& options = {}) requires(
        fixed&& detail::has_lock<LockPolicy>)
        : Base(make(N, {}, &shared_lock, options), &shared_lock) {}
    Array(std::size_t n, const LockPolicy& shared_lock,
          const SegmentOptions& options = {}) requires(!fixed && detail::has_lock<LockPolicy>)
        : Base(make(n, {}, &shared_lock, options), &shared_lock) {}
    Array(std::initializer_list<T> init, const LockPolicy& shared_lock,
          const SegmentOptions& options = {}) requires detail::has_lock<LockPolicy>
        : Base(make(fixed ? N : init.size(), {init.begin(), init.size()}, &shared_lock, options),
               &shared_lock) {}

    // Reaches an Array made by another process, checking element type, lock
    // kind and (for Array<T, N>) the length.
    static Array attach(std::string_view name) {
        return Array(detail::SharedSegment::attach(name, layout()));
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

    // Python's indexing: negative indices count from the end; outside the
    // array is std::out_of_range naming the segment, index and length.
    reference operator[](std::ptrdiff_t i) const { return reference(this, normalise(i)); }
    reference at(std::ptrdiff_t i) const { return reference(this, normalise(i)); }

    iterator begin() const { return iterator(this, 0); }
    iterator end() const { return iterator(this, size_); }

    // The elements themselves, without locking (Python's get_obj()).
    [[nodiscard]] std::span<T> get_obj() const noexcept { return {this->data(), size_}; }

    // Holds the lock until the guard is destroyed.
    [[nodiscard]] ArrayGuard<T, LockPolicy> lock() requires detail::has_lock<LockPolicy> {
        return ArrayGuard<T, LockPolicy>(this->hold(), get_obj(), this->lockfree_flag());
    }

    // A consistent copy of every element, taken under the lock (list(a)).
    [[nodiscard]] std::vector<T> to_vector() const {
        return this->locked([&] { return copy_range(0, size_); });
    }

    // Python's a[start:stop], clamped as Python clamps; negative indices
    // count from the end.
    [[nodiscard]] std::vector<T> slice(std::ptrdiff_t start, std::ptrdiff_t stop) const {
        const std::size_t b = clamp(start), e = clamp(stop);
        return this->locked([&] { return b < e ? copy_range(b, e) : std::vector<T>{}; });
    }

    // Sets every element to X in one locked step.
    void fill(const T& x) {
        this->locked([&] {
            for (std::size_t i = 0; i < size_; ++i) detail::cell_store(this->data() + i, x);
        });
    }

    // Python's a[:] = values: VALUES must have exactly size() elements.
    void assign(std::span<const T> values) {
        if (values.size() != size_) {
            throw std::invalid_argument(
                detail::segment_message(this->name(), "cannot assign",
                                        std::to_string(values.size()) + " values to " +
                                            std::to_string(size_) + " elements"));
        }
        this->locked([&] {
            T* data = this->data();
            if (this->bulk_copy_ok()) {
                // An empty span's data() may be null, which memcpy must never get.
                if (size_ != 0) std::memcpy(data, values.data(), size_ * sizeof(T));
            } else {
                for (std::size_t i = 0; i < size_; ++i) detail::cell_store(data + i, values[i]);
            }
        });
    }

    // Copies every element into OUT, which must have exactly size()
    // elements, in one locked step: a snapshot without allocating.
    void copy_to(std::span<T> out) const {
        if (out.size() != size_) {
            throw std::invalid_argument(detail::segment_message(
                this->name(), "cannot copy",
                std::to_string(size_) + " elements into " + std::to_string(out.size())));
        }
        this->locked([&] {
            const T* data = this->data();
            if (this->bulk_copy_ok()) {
                if (size_ != 0) std::memcpy(out.data(), data, size_ * sizeof(T));
            } else {
                for (std::size_t i = 0; i < size_; ++i) out[i] = detail::cell_load(data + i);
            }
        });
    }

    // Lock-free atomics on one element, for integers the hardware supports.
    T fetch_add(std::ptrdiff_t i, T x) requires detail::LockFreeInteger<T> {
        return lockfree(i).fetch_add(x);
    }
    T fetch_sub(std::ptrdiff_t i, T x) requires detail::LockFreeInteger<T> {
        return lockfree(i).fetch_sub(x);
    }
    T exchange(std::ptrdiff_t i, T x) requires detail::LockFreeInteger<T> {
        return lockfree(i).exchange(x);
    }
    bool compare_exchange(std::ptrdiff_t i, T& expected,
                          T desired) requires detail::LockFreeInteger<T> {
        return lockfree(i).compare_exchange_strong(expected, desired);
    }

    // Prints as Python prints list(a): [1, 2, 3].
    friend std::ostream& operator<<(std::ostream& os, const Array& a) {
        const std::vector<T> values = a.to_vector();
        return detail::write_python_list(os, values);
    }

  private:
    explicit Array(std::shared_ptr<detail::SharedSegment> segment)
        : Base(std::move(segment), nullptr) {}

    Array(std::shared_ptr<detail::SharedSegment> segment, const LockPolicy* shared_lock)
        : Base(std::move(segment), shared_lock) {}

    static detail::Layout layout() {
        return detail::Layout::of<T>(detail::Kind::array, detail::own_lock_kind<LockPolicy>(),
                                     fixed ? std::optional<std::uint64_t>(N) : std::nullopt,
                                     detail::has_lock<LockPolicy> ? "Array" : "RawArray");
    }

    static std::shared_ptr<detail::SharedSegment> make(std::size_t n, std::span<const T> init,
                                                       const LockPolicy* shared_lock,
                                                       const SegmentOptions& options) {
        if (init.size() > n) {
            throw std::invalid_argument("mpshm: Array of " + std::to_string(n) +
                                        " elements given " + std::to_string(init.size()) +
                                        " initial values");
        }
        return Base::create(layout(), n, shared_lock, options, [init](std::byte* data) {
            if (!init.empty()) std::memcpy(data, init.data(), init.size_bytes());
        });
    }

    // Base's constructor runs before size_ is set, so read it from the header.
    std::size_t size_ = static_cast<std::size_t>(this->segment()->count());

    std::size_t normalise(std::ptrdiff_t i) const {
        const auto n = static_cast<std::ptrdiff_t>(size_);
        const std::ptrdiff_t j = i < 0 ? i + n : i;
        if (j < 0 || j >= n) {
            throw std::out_of_range(
                detail::segment_message(this->name(), "index " + std::to_string(i),
                                        "out of range for " + std::string(layout().type_name) +
                                            " of length " + std::to_string(size_)));
        }
        return static_cast<std::size_t>(j);
    }

    std::size_t clamp(std::ptrdiff_t i) const {
        const auto n = static_cast<std::ptrdiff_t>(size_);
        if (i < 0) i += n;
        return static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, n));
    }

    std::vector<T> copy_range(std::size_t b, std::size_t e) const {
        const T* data = this->data();
        if (this->bulk_copy_ok()) return std::vector<T>(data + b, data + e);
        std::vector<T> out;
        out.reserve(e - b);
        for (std::size_t i = b; i < e; ++i) out.push_back(detail::cell_load(data + i));
        return out;
    }

    T load_at(std::size_t i) const {
        return this->locked([&] { return detail::cell_load(this->data() + i); });
    }
    void store_at(std::size_t i, const T& x) const {
        this->locked([&] { detail::cell_store(this->data() + i, x); });
    }

    std::atomic_ref<T> lockfree(std::ptrdiff_t i) const {
        const std::size_t j = normalise(i);
        this->before_lockfree();
        return std::atomic_ref<T>(this->data()[j]);
    }
};

// Python's RawArray: no lock; element reads and writes of arithmetic types
// are still single atomic instructions, and `+=` is lock-free where it can be.
template <typename T, std::size_t N = dynamic_extent>
using RawArray = Array<T, N, NoLock>;

}  // namespace mpshm
