// mpshm: Condition, shareable between processes (Python's
// multiprocessing.Condition).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <mpshm/detail/synchronized.hpp>
#include <mpshm/detail/wakeup.hpp>
#include <mpshm/lock.hpp>

namespace mpshm {
namespace detail {
struct ConditionState {
    Wakeup wakeup;
};
}  // namespace detail

// Python's multiprocessing.Condition(lock=None): a new RLock by default, or
// the Lock or RLock given (which other objects may share). Waiting releases
// the lock completely, however often an RLock was acquired, and takes it
// back as often before returning.
template <typename LockType = RLock>
class Condition : public detail::Synchronized<detail::ConditionState, LockType> {
    using Base = detail::Synchronized<detail::ConditionState, LockType>;
    static_assert(detail::has_lock<LockType>, "mpshm::Condition needs a Lock or an RLock");

  public:
    explicit Condition(const SegmentOptions& options = {})
        : Base(Base::create(layout(), 1, nullptr, options, [](std::byte*) {}), nullptr) {}
    explicit Condition(const LockType& lock, const SegmentOptions& options = {})
        : Base(Base::create(layout(), 1, &lock, options, [](std::byte*) {}), &lock) {}

    static Condition attach(std::string_view name) {
        return Condition(detail::SharedSegment::attach(name, layout()));
    }

    // The lock, as Python's Condition delegates acquire/release to it.
    bool acquire(bool block = true) { return this->get_lock().acquire(block); }
    template <typename Rep, typename Period>
    bool acquire(std::chrono::duration<Rep, Period> timeout) {
        return this->get_lock().acquire(timeout);
    }
    void release() { this->get_lock().release(); }
    void lock() { acquire(); }
    bool try_lock() { return acquire(false); }
    void unlock() { release(); }

    // Python: wait(timeout=None). The caller must hold the lock. Returns
    // false if the timeout ran out.
    bool wait() { return wait_until(detail::no_deadline); }
    template <typename Rep, typename Period>
    bool wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::deadline_after(timeout));
    }

    // Python: wait_for(predicate, timeout=None). Returns the predicate's
    // last value.
    template <typename Predicate>
    bool wait_for(Predicate predicate) {
        while (!predicate()) wait();
        return true;
    }
    template <typename Predicate, typename Rep, typename Period>
    bool wait_for(Predicate predicate, std::chrono::duration<Rep, Period> timeout) {
        const auto deadline = detail::deadline_after(timeout);
        bool result = predicate();
        while (!result) {
            if (!wait_until(deadline)) return predicate();
            result = predicate();
        }
        return result;
    }

    // Python: notify(n=1) and notify_all(). The caller should hold the lock.
    void notify(int n = 1) { state().wakeup.notify(n); }
    void notify_all() { state().wakeup.notify_all(); }

  private:
    explicit Condition(std::shared_ptr<detail::SharedSegment> segment)
        : Base(std::move(segment), nullptr) {}

    static detail::Layout layout() {
        return detail::Layout::of<detail::ConditionState>(
            detail::Kind::condition, detail::own_lock_kind<LockType>(), 1, "Condition");
    }

    detail::ConditionState& state() const { return *this->data(); }

    // Releases every hold on the lock, waits, and takes them all back. The
    // sequence is noted before the lock is let go, so a notify() made by the
    // next holder cannot be missed.
    bool wait_until(const detail::Deadline& deadline) {
        LockType& lock = this->get_lock();
        auto& wakeup = state().wakeup;
        const std::uint32_t depth = lock.depth();
        const std::uint32_t observed = wakeup.prepare();
        try {
            lock.release();
        } catch (const std::invalid_argument&) {
            wakeup.finish();
            throw std::logic_error("mpshm: Condition " + this->name() +
                                   ": cannot wait on un-acquired lock");
        }
        for (std::uint32_t i = 1; i < depth; ++i) lock.release();
        const bool in_time = wakeup.sleep(observed, deadline);
        for (std::uint32_t i = 0; i < depth; ++i) lock.acquire();
        wakeup.finish();
        return in_time;
    }
};

}  // namespace mpshm
