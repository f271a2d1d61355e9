// mpshm: Queue, SimpleQueue and JoinableQueue in shared memory (Python's
// multiprocessing.queues), for trivially copyable T and for std::string.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <mpshm/detail/shared_primitive.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/type_tag.hpp>

namespace mpshm {

// Python's Queue(maxsize=0), plus the size of the ring that holds the
// messages and how the segment is made.
struct QueueOptions {
    std::size_t maxsize = 0;   // most messages at once; 0: as many as fit (Python: no limit)
    std::size_t capacity = 0;  // bytes of ring; 0: room for maxsize messages, or 1 MiB
    std::optional<std::string> name = std::nullopt;
    bool track = true;
    unsigned mode = 0600;
};

namespace detail {

// How a message of type T becomes bytes in the ring and back.
template <typename T>
struct queue_codec {
    static_assert(Shareable<T>,
                  "mpshm::Queue<T>: T must be std::string or trivially copyable without pointers");
    static constexpr std::size_t fixed_size = sizeof(T);
    static std::size_t size(const T&) { return sizeof(T); }
    static const void* data(const T& x) { return &x; }
    static T make(const std::byte* p, std::size_t) {
        T x;
        std::memcpy(&x, p, sizeof(T));
        return x;
    }
};

template <>
struct queue_codec<std::string> {
    static constexpr std::size_t fixed_size = 0;
    static std::size_t size(const std::string& s) { return s.size(); }
    static const void* data(const std::string& s) { return s.data(); }
    static std::string make(const std::byte* p, std::size_t n) {
        return {reinterpret_cast<const char*>(p), n};
    }
};

struct QueueState {
    std::uint64_t capacity;    // bytes of ring
    std::uint64_t maxsize;     // 0: no limit but the ring
    std::uint64_t read_pos;    // byte positions, only ever growing: the ring
    std::uint64_t write_pos;   // holds the records in [read_pos, write_pos)
    std::uint64_t items;       // records in the ring
    std::uint64_t unfinished;  // put() minus task_done(), for JoinableQueue
    // A put's journal, for a putter killed between publishing its record and
    // counting it unfinished: write_pos it publishes (0: no put under way),
    // and `unfinished` before it.
    std::uint64_t pending_write_pos;
    std::uint64_t pending_unfinished;
    Wakeup not_empty;
    Wakeup not_full;
    Wakeup all_done;
};

using record_size_t = std::uint32_t;  // each record: its length, then its bytes

}  // namespace detail

// Python's multiprocessing.Queue: any number of producers and consumers in
// any processes, a bounded ring in shared memory, put/get with block and
// timeout, Empty and Full. A message never fits partly: one larger than the
// ring is refused with std::invalid_argument.
//
// A process killed in the middle of put() or get() never wedges the others
// (the lock inside is robust, waits are futexes) and never corrupts the
// ring: a record becomes visible only once complete, and leaves only once
// copied out. The message in flight is delivered once, or, if its putter
// died before finishing, not at all; a getter killed after taking a message
// takes it with it.
template <typename T>
class Queue : public detail::SharedPrimitive<detail::QueueState> {
    using Base = detail::SharedPrimitive<detail::QueueState>;
    using Codec = detail::queue_codec<T>;
    static constexpr std::size_t header = sizeof(detail::record_size_t);

  public:
    explicit Queue(std::size_t maxsize = 0) : Queue(QueueOptions{.maxsize = maxsize}) {}

    explicit Queue(const QueueOptions& options)
        : Base(layout(), ring_bytes(options),
               SegmentOptions{.name = options.name, .track = options.track, .mode = options.mode},
               [&](detail::QueueState& s, std::byte*) {
                   s.capacity = ring_bytes(options);
                   s.maxsize = options.maxsize;
               }),
          capacity_(ring_bytes(options)),
          maxsize_(options.maxsize) {}

    static Queue attach(std::string_view name) { return Queue(name); }

    // Python: put(obj, block=True, timeout=None).
    void put(const T& item, bool block = true) { push(item, block, detail::no_deadline); }
    template <typename Rep, typename Period>
    void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
        push(item, true, detail::deadline_after(timeout));
    }
    void put_nowait(const T& item) { push(item, false, detail::no_deadline); }

    // Python: get(block=True, timeout=None).
    T get(bool block = true) { return pop(block, detail::no_deadline); }
    template <typename Rep, typename Period>
    T get(std::chrono::duration<Rep, Period> timeout) {
        return pop(true, detail::deadline_after(timeout));
    }
    T get_nowait() { return pop(false, detail::no_deadline); }

    [[nodiscard]] std::size_t qsize() const {
        const auto hold = locked();
        return static_cast<std::size_t>(state().items);
    }
    [[nodiscard]] bool empty() const { return qsize() == 0; }
    [[nodiscard]] bool full() const {
        const auto hold = locked();
        const auto& s = state();
        return (maxsize_ != 0 && s.items >= maxsize_) ||
               capacity_ - (s.write_pos - s.read_pos) < header + Codec::fixed_size;
    }

    // Python: close(): this process will put no more; put() then throws
    // std::invalid_argument. Other processes' handles are not affected.
    void close() noexcept { closed_ = true; }

    // Bytes of ring, and the most messages at once (0: as many as fit).
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::size_t maxsize() const noexcept { return maxsize_; }

  protected:
    // The ring's size and the most messages at once are read once, here:
    // every address is computed from these copies, never from the segment,
    // which another process can change at any time.
    explicit Queue(std::string_view name)
        : Base(name, layout()),
          capacity_(static_cast<std::size_t>(state().capacity)),
          maxsize_(static_cast<std::size_t>(state().maxsize)) {
        if (capacity_ != tail_size() || capacity_ == 0) {
            throw CorruptSegmentError(detail::segment_message(name, "cannot attach as Queue",
                                                              "its ring size is damaged"));
        }
    }

    // Python's JoinableQueue bookkeeping, kept by every put() so that any
    // handle may feed a JoinableQueue.
    void done_one() {
        const auto hold = locked();
        auto& s = state();
        if (s.unfinished == 0) {
            throw std::invalid_argument(
                detail::segment_message(name(), "task_done", "called too many times"));
        }
        if (--s.unfinished == 0) s.all_done.notify_all();
    }
    void wait_all_done() {
        auto hold = locked();
        while (state().unfinished != 0) wait(hold, state().all_done, detail::no_deadline);
    }

  private:
    static detail::Layout layout() {
        // Queue<int> and Queue<double> must not attach to each other.
        return Base::layout(detail::Kind::queue, "Queue",
                            type_tag<T>::value ^ 0x5175657565000000ULL);
    }

    static std::size_t ring_bytes(const QueueOptions& o) {
        if (o.capacity != 0) return o.capacity;
        if (o.maxsize != 0 && Codec::fixed_size != 0)
            return o.maxsize * (header + Codec::fixed_size);
        return std::size_t{1} << 20U;
    }

    // Takes the internal lock (by lock_deadline(DEADLINE) at the latest, if
    // there is one). If its last holder died inside put() or get(), the
    // positions are intact (each is published by a single store), but the
    // item count may be one off: count the records again.
    [[nodiscard]] std::unique_lock<Lock> locked(const detail::Deadline& deadline = detail::no_deadline) const {
        auto hold = lock_state(deadline, [this] { recount(); });
        if (hold.owns_lock()) check_positions();
        return hold;
    }

    bool wait(std::unique_lock<Lock>& hold, detail::Wakeup& wakeup,
              const detail::Deadline& deadline) const {
        const bool in_time = wait_state(hold, wakeup, deadline, [this] { recount(); });
        if (hold.owns_lock()) check_positions();
        return in_time;
    }

    // Every put and get leaves 0 <= write_pos - read_pos <= capacity, with
    // at most one record per header's worth of bytes between them. Past
    // that, a get would read past the ring and a recount might never end:
    // only a damaged segment gets there.
    // (The count is checked only once a recount after a death is done:
    // before it, a getter that died may have left it one too high.)
    void check_positions(bool count_too = true) const {
        const auto& s = state();
        if (s.read_pos > s.write_pos || s.write_pos - s.read_pos > capacity_ ||
            (count_too && s.items > (s.write_pos - s.read_pos) / header)) {
            throw CorruptSegmentError(detail::segment_message(
                name(), "cannot use Queue",
                "its read and write positions (" + std::to_string(s.read_pos) + ", " +
                    std::to_string(s.write_pos) + ") and count of " + std::to_string(s.items) +
                    " do not fit its ring of " + std::to_string(capacity_) + " bytes"));
        }
    }

    [[noreturn]] void damaged_records() const {
        throw CorruptSegmentError(
            detail::segment_message(name(), "cannot use Queue", "its records are damaged"));
    }

    static void store(std::uint64_t& field, std::uint64_t value) {
        std::atomic_ref<std::uint64_t>(field).store(value, std::memory_order_release);
    }

    // After a holder of the lock died: counts the records again, and counts
    // a put that died after publishing its record as unfinished.
    void recount() const {
        check_positions(false);
        auto& s = state();
        if (s.pending_write_pos != 0) {
            s.unfinished = s.pending_unfinished + (s.write_pos == s.pending_write_pos ? 1 : 0);
            s.pending_write_pos = 0;
        }
        std::uint64_t items = 0;
        for (std::uint64_t pos = s.read_pos; pos < s.write_pos; ++items) {
            // Each record, its length included, lies between the positions.
            if (s.write_pos - pos < header) damaged_records();
            detail::record_size_t n = 0;
            copy_out(pos, &n, header);
            if (n > s.write_pos - pos - header) damaged_records();
            pos += header + n;
        }
        s.items = items;
    }

    void copy_in(std::uint64_t pos, const void* from, std::size_t n) {
        const auto at = static_cast<std::size_t>(pos % capacity_);
        const std::size_t first = std::min<std::size_t>(n, capacity_ - at);
        std::memcpy(tail() + at, from, first);
        std::memcpy(tail(), static_cast<const std::byte*>(from) + first, n - first);
    }

    void copy_out(std::uint64_t pos, void* to, std::size_t n) const {
        const auto at = static_cast<std::size_t>(pos % capacity_);
        const std::size_t first = std::min<std::size_t>(n, capacity_ - at);
        std::memcpy(to, tail() + at, first);
        std::memcpy(static_cast<std::byte*>(to) + first, tail(), n - first);
    }

    bool has_room(std::size_t bytes) const {
        const auto& s = state();
        return (maxsize_ == 0 || s.items < maxsize_) &&
               capacity_ - (s.write_pos - s.read_pos) >= bytes;
    }

    // A call that does not block waits no longer than the internal lock's
    // grace; a timed one no longer than its deadline and that grace.
    [[nodiscard]] std::unique_lock<Lock> locked_for_call(bool block,
                                                         const detail::Deadline& deadline) const {
        return locked(block ? deadline : brief());
    }

    void push(const T& item, bool block, const detail::Deadline& deadline) {
        if (closed_)
            throw std::invalid_argument(
                detail::segment_message(name(), "cannot put", "the queue is closed"));
        const std::size_t n = Codec::size(item);
        const std::size_t bytes = header + n;
        if (bytes > capacity_) {
            throw std::invalid_argument(detail::segment_message(
                name(), "cannot put",
                "a message of " + std::to_string(n) + " bytes is larger than the queue's ring of " +
                    std::to_string(capacity_) + " bytes"));
        }
        const auto full = [&] {
            return Full(detail::segment_message(name(), "cannot put", "the queue is full"));
        };
        auto hold = locked_for_call(block, deadline);
        if (!hold.owns_lock()) throw full();
        auto& s = state();
        while (!has_room(bytes)) {
            if (!block || !wait(hold, s.not_full, deadline)) {
                if (!hold.owns_lock() || !has_room(bytes)) throw full();
            }
        }
        const auto length = static_cast<detail::record_size_t>(n);
        copy_in(s.write_pos, &length, header);
        copy_in(s.write_pos + header, Codec::data(item), n);
        // Stores a killed putter may stop between, in this order (release
        // stores: the compiler keeps them so); recount() finishes the job.
        store(s.pending_unfinished, s.unfinished);
        store(s.pending_write_pos, s.write_pos + bytes);
        store(s.write_pos, s.write_pos + bytes);  // the record is visible from here on
        ++s.items;
        store(s.unfinished, s.unfinished + 1);
        store(s.pending_write_pos, 0);
        s.not_empty.notify(1);
    }

    T pop(bool block, const detail::Deadline& deadline) {
        const auto empty = [&] {
            return Empty(detail::segment_message(name(), "cannot get", "the queue is empty"));
        };
        auto hold = locked_for_call(block, deadline);
        if (!hold.owns_lock()) throw empty();
        auto& s = state();
        while (s.read_pos == s.write_pos) {
            if (!block || !wait(hold, s.not_empty, deadline)) {
                if (!hold.owns_lock() || s.read_pos == s.write_pos) throw empty();
            }
        }
        // The record, its length included, must lie between the positions,
        // which locked() checked lie within the ring.
        const std::uint64_t used = s.write_pos - s.read_pos;
        detail::record_size_t n = 0;
        if (used >= header) copy_out(s.read_pos, &n, header);
        if (used < header || n > used - header ||
            (Codec::fixed_size != 0 && n != Codec::fixed_size)) {
            throw CorruptSegmentError(
                detail::segment_message(name(), "cannot get", "a damaged record"));
        }
        T item = read_record(s.read_pos + header, n);
        s.read_pos += header + n;  // the record is gone from here on
        if (s.items != 0) --s.items;
        s.not_full.notify(1);
        return item;
    }

    T read_record(std::uint64_t pos, std::size_t n) const {
        const auto at = static_cast<std::size_t>(pos % capacity_);
        if (at + n <= capacity_) return Codec::make(tail() + at, n);  // contiguous: no copy
        std::string buffer(n, '\0');
        copy_out(pos, buffer.data(), n);
        return Codec::make(reinterpret_cast<const std::byte*>(buffer.data()), n);
    }

    std::size_t capacity_;  // bytes of ring, as made: the bound of every address
    std::size_t maxsize_;   // most messages at once, as made (0: as many as fit)
    bool closed_ = false;
};

// Python's multiprocessing.SimpleQueue: the same ring (get, put, empty, close).
template <typename T>
using SimpleQueue = Queue<T>;

// Python's multiprocessing.JoinableQueue: task_done() after each get(), and
// join() waits until every message put has been marked done.
template <typename T>
class JoinableQueue : public Queue<T> {
  public:
    using Queue<T>::Queue;
    static JoinableQueue attach(std::string_view name) { return JoinableQueue(name); }

    // Throws std::invalid_argument when called more often than put() (Python's ValueError).
    void task_done() { this->done_one(); }
    void join() { this->wait_all_done(); }

  private:
    explicit JoinableQueue(std::string_view name) : Queue<T>(name) {}
};

}  // namespace mpshm
