// mpshm: Event, shareable between processes (Python's multiprocessing.Event).
// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

#include <mpshm/detail/shared_primitive.hpp>

namespace mpshm {
namespace detail {
struct EventState {
    std::uint32_t flag;
    Wakeup wakeup;
};
}  // namespace detail

// Python's multiprocessing.Event: set(), clear(), is_set(), wait(timeout).
class Event : public detail::SharedPrimitive<detail::EventState> {
    using Base = detail::SharedPrimitive<detail::EventState>;

  public:
    explicit Event(const SegmentOptions& options = {})
        : Base(layout(), 0, options, [](detail::EventState&, std::byte*) {}) {}
    static Event attach(std::string_view name) { return Event(name); }

    void set() {
        const std::lock_guard hold(mutex());
        flag().store(1, std::memory_order_relaxed);
        state().wakeup.notify_all();
    }
    void clear() {
        const std::lock_guard hold(mutex());
        flag().store(0, std::memory_order_relaxed);
    }
    [[nodiscard]] bool is_set() const {
        const std::lock_guard hold(mutex());
        return flag().load(std::memory_order_relaxed) != 0;
    }

    // Blocks until the flag is set; returns it (always true here).
    bool wait() { return wait_until(detail::no_deadline); }

    // Waits at most TIMEOUT; returns the flag, false if the time ran out.
    template <typename Rep, typename Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::deadline_after(timeout));
    }

  private:
    explicit Event(std::string_view name) : Base(name, layout()) {}

    static detail::Layout layout() {
        return Base::layout(detail::Kind::event, "Event", 0x4576656e74000001ULL);
    }

    std::atomic_ref<std::uint32_t> flag() const { return std::atomic_ref<std::uint32_t>(state().flag); }

    // Like Python's, waits for one set(): if the flag is cleared again before
    // this waiter runs, it returns false instead of sleeping on. With a
    // DEADLINE it returns by then (and the internal lock's grace), whatever
    // holds the lock or changes the segment.
    bool wait_until(const detail::Deadline& deadline) {
        auto hold = lock_state(deadline, [] {});
        if (!hold.owns_lock()) return flag().load(std::memory_order_relaxed) != 0;
        auto& wakeup = state().wakeup;
        const std::uint32_t entered = std::atomic_ref<std::uint32_t>(wakeup.sequence).load();
        while (flag().load(std::memory_order_relaxed) == 0 &&
               std::atomic_ref<std::uint32_t>(wakeup.sequence).load() == entered) {
            if (!wait_state(hold, wakeup, deadline, [] {})) break;
        }
        return flag().load(std::memory_order_relaxed) != 0;
    }
};

}  // namespace mpshm
