// mpshm: Barrier, shareable between processes (Python's
// multiprocessing.Barrier, which is threading.Barrier's algorithm).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <mpshm/detail/os.hpp>
#include <mpshm/detail/process_state.hpp>
#include <mpshm/detail/shared_primitive.hpp>
#include <mpshm/errors.hpp>

namespace mpshm {
namespace detail {

struct BarrierState {
    std::uint32_t parties;
    std::uint32_t count;  // parties inside wait()
    std::int32_t phase;   // 0 filling, 1 draining, -1 resetting, -2 broken
    std::uint32_t has_action;
    std::int64_t action_offset;  // the action, as an offset from spawn_anchor
    std::int64_t timeout_ns;     // default timeout; negative: none
    Wakeup wakeup;
    // Then `parties` slots of std::int64_t: the pid of each party waiting.
};

// How long a waiting party sleeps before it checks that the others it waits
// with are still alive: a party killed in wait() breaks the barrier.
inline constexpr std::chrono::milliseconds barrier_liveness_interval{100};

}  // namespace detail

// Python's multiprocessing.Barrier(parties, action=None, timeout=None).
// The action is a function (or a lambda without captures) that the last
// party to arrive runs before the others are released; it travels between
// processes of the same program like a Process target. Unlike Python's, a
// party killed while waiting breaks the barrier instead of hanging the rest.
class Barrier : public detail::SharedPrimitive<detail::BarrierState> {
    using Base = detail::SharedPrimitive<detail::BarrierState>;

  public:
    using Action = void (*)();

    explicit Barrier(unsigned parties, Action action = nullptr,
                     std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                     const SegmentOptions& options = {})
        : Base(layout(), checked(parties) * sizeof(std::int64_t), options,
               [&](detail::BarrierState& s, std::byte*) {
                   s.parties = parties;
                   s.has_action = action != nullptr ? 1 : 0;
                   s.action_offset = action != nullptr ? detail::code_offset(action) : 0;
                   s.timeout_ns = timeout ? timeout->count() : -1;
               }) {}

    static Barrier attach(std::string_view name) { return Barrier(name); }

    // Python: wait(timeout=None). Returns this party's arrival index, from
    // 0 (first) to parties - 1 (last, which ran the action). Throws BrokenBarrierError if the
    // barrier is or becomes broken, or the timeout runs out (which breaks it).
    unsigned wait() { return wait_until(default_deadline()); }
    template <typename Rep, typename Period>
    unsigned wait(std::chrono::duration<Rep, Period> timeout) {
        return wait_until(detail::deadline_after(timeout));
    }

    // Python: reset(): back to empty; parties waiting get BrokenBarrierError.
    void reset() {
        const auto hold = locked();
        auto& s = state();
        if (s.count > 0) {
            if (s.phase == 0 || s.phase == -2) s.phase = -1;  // the waiters see it broken
        } else {
            s.phase = 0;
        }
        s.wakeup.notify_all();
    }

    // Python: abort(): break it, so that present and future waits fail.
    void abort() {
        const auto hold = locked();
        break_barrier();
    }

    [[nodiscard]] unsigned parties() const {
        const auto hold = locked();
        return state().parties;
    }
    [[nodiscard]] unsigned n_waiting() const {
        const auto hold = locked();
        return state().phase == 0 ? state().count : 0;
    }
    [[nodiscard]] bool broken() const {
        const auto hold = locked();
        return state().phase == -2;
    }

  private:
    explicit Barrier(std::string_view name) : Base(name, layout()) {
        if (tail_size() / sizeof(std::int64_t) < state().parties) {
            throw CorruptSegmentError(detail::segment_message(name, "cannot attach as Barrier",
                                                              "too small for its parties"));
        }
    }

    static detail::Layout layout() {
        return Base::layout(detail::Kind::barrier, "Barrier", 0x4261727269657231ULL);
    }

    static unsigned checked(unsigned parties) {
        if (parties == 0) throw std::invalid_argument("mpshm: a Barrier needs at least one party");
        return parties;
    }

    std::int64_t* slots() const { return reinterpret_cast<std::int64_t*>(tail()); }

    detail::Deadline default_deadline() const {
        const auto ns = state().timeout_ns;
        return ns < 0 ? detail::Deadline{} : detail::deadline_after(std::chrono::nanoseconds(ns));
    }

    [[noreturn]] void broken_error() const {
        throw BrokenBarrierError("mpshm: Barrier " + name() + " is broken");
    }

    void break_barrier() const {
        state().phase = -2;
        state().wakeup.notify_all();
    }

    // Takes the internal lock; a party that died holding it may have left
    // the state half-changed, so the barrier breaks, as it would in Python
    // for any party that failed.
    [[nodiscard]] std::unique_lock<Lock> locked() const {
        return lock_state([this] { break_barrier(); });
    }

    // Forgets parties recorded as waiting that have since died; returns
    // whether there were any. Their wait() will never run its cleanup.
    bool reap_dead_parties() {
        auto& s = state();
        bool died = false;
        for (std::uint32_t i = 0; i < s.parties; ++i) {
            const auto pid = static_cast<detail::os::pid_type>(slots()[i]);
            if (pid != 0 && detail::os::process_gone(pid)) {
                slots()[i] = 0;
                --s.count;
                died = true;
            }
        }
        if (died && s.count == 0 && (s.phase == -1 || s.phase == 1)) {
            s.phase = 0;
            s.wakeup.notify_all();
        }
        return died;
    }

    // Sleeps until woken, DEADLINE, or the next liveness check.
    void nap(const detail::Deadline& deadline) {
        detail::Deadline next =
            std::chrono::steady_clock::now() + detail::barrier_liveness_interval;
        if (deadline && *deadline < *next) next = deadline;
        wait_state(state().wakeup, next, [this] { break_barrier(); });
    }

    unsigned wait_until(const detail::Deadline& deadline) {
        const auto hold = locked();
        auto& s = state();
        // Python's _enter(): wait while the barrier drains or resets.
        while (s.phase == 1 || s.phase == -1) {
            nap(std::nullopt);
            reap_dead_parties();
        }
        if (s.phase < 0) broken_error();
        // A party that died waiting can never arrive: the barrier breaks now,
        // even for the party that would have been the last.
        if (reap_dead_parties()) {
            break_barrier();
            broken_error();
        }
        const std::uint32_t index = s.count++;
        std::uint32_t slot = 0;
        while (slots()[slot] != 0) ++slot;  // count < parties, so a slot is free
        slots()[slot] = static_cast<std::int64_t>(detail::os::current_pid());
        struct Leave {  // Python's finally: count -= 1; _exit()
            Barrier& b;
            std::uint32_t slot;
            ~Leave() {
                auto& st = b.state();
                b.slots()[slot] = 0;
                --st.count;
                if (st.count == 0 && (st.phase == -1 || st.phase == 1)) {
                    st.phase = 0;
                    st.wakeup.notify_all();
                }
            }
        } leave{*this, slot};
        if (index + 1 == s.parties) {
            // The last to arrive runs the action, then releases the others.
            if (s.has_action != 0) {
                try {
                    detail::code_at<void()>(static_cast<std::intptr_t>(s.action_offset))();
                } catch (...) {
                    break_barrier();
                    throw;
                }
            }
            s.phase = 1;
            s.wakeup.notify_all();
        } else {
            while (s.phase == 0) {
                nap(deadline);
                if (s.phase != 0) break;
                if (detail::passed(deadline) || reap_dead_parties()) break_barrier();
            }
            if (s.phase < 0) broken_error();
        }
        return index;
    }
};

}  // namespace mpshm
