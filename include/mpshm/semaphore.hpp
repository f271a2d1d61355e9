// mpshm: Semaphore and BoundedSemaphore, shareable between processes
// (Python's multiprocessing.Semaphore and BoundedSemaphore).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <climits>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include <mpshm/detail/shared_primitive.hpp>

namespace mpshm {
namespace detail {

struct SemaphoreState {
    std::uint32_t value;
    std::uint32_t max_value;  // for BoundedSemaphore; UINT32_MAX otherwise
    Wakeup wakeup;
};

template <bool Bounded>
class BasicSemaphore : public SharedPrimitive<SemaphoreState> {
    using Base = SharedPrimitive<SemaphoreState>;

  public:
    // Python: Semaphore(value=1). A negative value is std::invalid_argument.
    explicit BasicSemaphore(int value = 1, const SegmentOptions& options = {})
        : Base(layout(), 0, options,
               [value](SemaphoreState& s, std::byte*) {
                   s.value = static_cast<std::uint32_t>(checked(value));
                   s.max_value = Bounded ? s.value : UINT32_MAX;
               }),
          max_value_(Bounded ? static_cast<std::uint32_t>(value) : UINT32_MAX) {}

    // Python: acquire(block=True). Blocks while the value is zero.
    bool acquire(bool block = true) { return take(block, no_deadline); }

    // Python: acquire(timeout=t). Returns false when TIMEOUT ran out.
    template <typename Rep, typename Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return take(true, deadline_after(timeout));
    }

    // Any process may release. A BoundedSemaphore refuses to go above its
    // initial value (Python's ValueError).
    void release() {
        const std::lock_guard hold(mutex());
        auto& s = state();
        if (s.value >= max_value_) {
            throw std::invalid_argument(segment_message(
                name(), "cannot release", "semaphore or lock released too many times"));
        }
        ++s.value;
        s.wakeup.notify(1);
    }

    // Python's get_value().
    [[nodiscard]] int get_value() const {
        const std::lock_guard hold(mutex());
        return static_cast<int>(state().value);
    }

    // BasicLockable, for std::lock_guard (Python's `with sem:`).
    void lock() { acquire(); }
    bool try_lock() { return acquire(false); }
    void unlock() { release(); }

  protected:
    // A BoundedSemaphore's bound is read once, here, like every bound.
    explicit BasicSemaphore(std::string_view name)
        : Base(name, layout()), max_value_(Bounded ? state().max_value : UINT32_MAX) {}

    static Layout layout() {
        return Base::layout(Kind::semaphore, Bounded ? "BoundedSemaphore" : "Semaphore",
                            Bounded ? 0x426f756e64656453ULL : 0x53656d6170686f72ULL);
    }

  private:
    static int checked(int value) {
        if (value < 0) throw std::invalid_argument("mpshm: semaphore initial value must be >= 0");
        return value;
    }

    // A call that does not block waits for the internal lock no longer than
    // its grace; a timed one no longer than its deadline and that grace.
    bool take(bool block, const Deadline& deadline) {
        auto hold = lock_state(block ? deadline : brief(), [] {});
        if (!hold.owns_lock()) return false;
        auto& s = state();
        while (s.value == 0) {
            if (!block || !wait_state(hold, s.wakeup, deadline, [] {})) {
                if (!hold.owns_lock() || s.value == 0) return false;
            }
        }
        --s.value;
        return true;
    }

    std::uint32_t max_value_;  // BoundedSemaphore's bound (UINT32_MAX: none), as made
};

}  // namespace detail

// Python's multiprocessing.Semaphore. A process that dies holding a unit
// does not give it back (as in Python); the internal lock is robust, so a
// process killed inside acquire() or release() never wedges the others.
class Semaphore : public detail::BasicSemaphore<false> {
  public:
    using BasicSemaphore::BasicSemaphore;
    static Semaphore attach(std::string_view name) { return Semaphore(name); }

  private:
    explicit Semaphore(std::string_view name) : BasicSemaphore(name) {}
};

// Python's multiprocessing.BoundedSemaphore: release() above the initial
// value throws std::invalid_argument.
class BoundedSemaphore : public detail::BasicSemaphore<true> {
  public:
    using BasicSemaphore::BasicSemaphore;
    static BoundedSemaphore attach(std::string_view name) { return BoundedSemaphore(name); }

  private:
    explicit BoundedSemaphore(std::string_view name) : BasicSemaphore(name) {}
};

}  // namespace mpshm
