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
#include <mpshm/detail/spawn_args.hpp>
#include <mpshm/errors.hpp>

namespace mpshm {
namespace detail {

// What the parties share. Nothing here is code or an address, and nothing
// here is a bound: each handle keeps its own copy of the number of parties
// (the bound of the slots after this state) and of the default timeout.
struct BarrierState {
    std::uint32_t parties;     // as made; read once, at attach
    std::uint32_t count;       // parties inside wait(), at most `parties`
    std::int32_t phase;        // 0 filling, 1 draining, -1 resetting, -2 broken
    std::uint32_t has_action;  // whether the creator gave an action (attach checks it)
    std::int64_t timeout_ns;   // default timeout, negative: none; read once, at attach
    Wakeup wakeup;
    // Then `parties` slots of std::int64_t: the pid of each party waiting.
};

// How long a waiting party sleeps before it checks that the others it waits
// with are still alive: a party killed in wait() breaks the barrier.
inline constexpr std::chrono::milliseconds barrier_liveness_interval{100};

}  // namespace detail

// Python's multiprocessing.Barrier(parties, action=None, timeout=None).
// The action is a function (or a lambda without captures) that the last
// party to arrive runs before the others are released. It belongs to the
// handle, never to the segment (whoever can write a segment must not choose
// the code its users run): copies and fork()ed children keep it, a spawned
// child gets it with the Barrier it is passed (checked to be code of this
// program), and a handle attached by name gives it again,
// Barrier::attach(name, action). Unlike Python's, a party killed while
// waiting breaks the barrier instead of hanging the rest.
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
                   s.timeout_ns = timeout ? timeout->count() : -1;
               }),
          parties_(parties),
          timeout_(timeout),
          action_(action) {}

    // Reaches a Barrier made elsewhere. One made with an action is attached
    // with that action: the segment never says which code to run.
    static Barrier attach(std::string_view name) { return Barrier(name, nullptr); }
    static Barrier attach(std::string_view name, Action action) {
        if (action == nullptr) throw std::invalid_argument("mpshm: Barrier::attach: a null action");
        return Barrier(name, action);
    }

    // Python: wait(timeout=None). Returns this party's arrival index, from
    // 0 (first) to parties - 1 (last, which ran the action). Throws
    // BrokenBarrierError if the barrier is or becomes broken, or the timeout
    // runs out (which breaks it). A timed wait returns by its deadline (and
    // the internal lock's grace), whatever the segment holds.
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

    [[nodiscard]] unsigned parties() const noexcept { return parties_; }
    [[nodiscard]] unsigned n_waiting() const {
        const auto hold = locked();
        return state().phase == 0 ? state().count : 0;
    }
    [[nodiscard]] bool broken() const {
        const auto hold = locked();
        return state().phase == -2;
    }

    // The action this handle runs when its party arrives last (null: none).
    [[nodiscard]] Action action() const noexcept { return action_; }

  private:
    // The number of parties, the default timeout and whether there is an
    // action are read here, once: the bounds of everything after.
    Barrier(std::string_view name, Action action)
        : Base(name, layout()), parties_(state().parties), action_(action) {
        const auto why = [&](const std::string& what) {
            return detail::segment_message(name, "cannot attach as Barrier", what);
        };
        if (parties_ == 0 || tail_size() / sizeof(std::int64_t) < parties_) {
            throw CorruptSegmentError(why("too small for its parties"));
        }
        if (const std::int64_t ns = state().timeout_ns; ns >= 0) {
            timeout_ = std::chrono::nanoseconds(ns);
        }
        const bool has_action = state().has_action != 0;
        if (has_action && action == nullptr) {
            throw TypeMismatchError(
                why("it was made with an action: attach it with Barrier::attach(name, action)"));
        }
        if (!has_action && action != nullptr) throw TypeMismatchError(why("it was made with no action"));
    }

    static detail::Layout layout() {
        return Base::layout(detail::Kind::barrier, "Barrier", 0x4261727269657232ULL);
    }

    static unsigned checked(unsigned parties) {
        if (parties == 0) throw std::invalid_argument("mpshm: a Barrier needs at least one party");
        return parties;
    }

    std::int64_t* slots() const { return reinterpret_cast<std::int64_t*>(tail()); }

    detail::Deadline default_deadline() const {
        return timeout_ ? detail::deadline_after(*timeout_) : detail::no_deadline;
    }

    [[noreturn]] void broken_error() const {
        throw BrokenBarrierError("mpshm: Barrier " + name() + " is broken");
    }

    [[noreturn]] void corrupt(const std::string& why) const {
        throw CorruptSegmentError(detail::segment_message(name(), "cannot use Barrier", why));
    }

    void break_barrier() const {
        state().phase = -2;
        state().wakeup.notify_all();
    }

    // Every live value is checked against this handle's own bounds before
    // it is used: a phase no Barrier has, or more parties inside than it
    // has, is damage.
    void check_state() const {
        const auto& s = state();
        if (s.phase < -2 || s.phase > 1) corrupt("its phase " + std::to_string(s.phase) + " is not one a Barrier has");
        if (s.count > parties_) {
            corrupt(std::to_string(s.count) + " parties inside, of " + std::to_string(parties_));
        }
    }

    // Takes the internal lock (by lock_deadline(DEADLINE) at the latest: the
    // result may then not own it). A party that died holding it may have
    // left the state half-changed, so the barrier breaks, as it would in
    // Python for any party that failed.
    [[nodiscard]] std::unique_lock<Lock> locked(const detail::Deadline& deadline = detail::no_deadline) const {
        auto hold = lock_state(deadline, [this] { break_barrier(); });
        if (hold.owns_lock()) check_state();
        return hold;
    }

    // Forgets parties recorded as waiting that have since died; returns
    // whether there were any. Their wait() will never run its cleanup.
    bool reap_dead_parties() {
        auto& s = state();
        bool died = false;
        for (std::uint32_t i = 0; i < parties_; ++i) {
            const auto pid = static_cast<detail::os::pid_type>(slots()[i]);
            if (pid != 0 && detail::os::process_gone(pid)) {
                slots()[i] = 0;
                if (s.count == 0) corrupt("a slot taken while no party is inside");
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

    // Sleeps until woken, DEADLINE, or the next liveness check. Returns
    // whether HOLD still owns the lock.
    bool nap(std::unique_lock<Lock>& hold, const detail::Deadline& deadline) {
        detail::Deadline next =
            std::chrono::steady_clock::now() + detail::barrier_liveness_interval;
        if (deadline && *deadline < *next) next = deadline;
        (void)wait_state(hold, state().wakeup, next, [this] { break_barrier(); });
        if (hold.owns_lock()) check_state();
        return hold.owns_lock();
    }

    // Python's finally: count -= 1; _exit(). Runs however wait() ends,
    // holding the lock (taken back briefly if a wait lost it); never throws.
    struct Leave {
        Barrier& barrier;
        std::unique_lock<Lock>& hold;
        std::uint32_t slot;
        ~Leave() {
            try {
                if (!hold.owns_lock()) {
                    if (!barrier.mutex().acquire_until(detail::lock_deadline(
                            std::chrono::steady_clock::now()))) {
                        return;  // its lock is held and not let go: nothing safe to do
                    }
                    hold = std::unique_lock<Lock>(barrier.mutex(), std::adopt_lock);
                }
                auto& s = barrier.state();
                barrier.slots()[slot] = 0;
                if (s.count > 0) --s.count;
                if (s.count == 0 && (s.phase == -1 || s.phase == 1)) {
                    s.phase = 0;
                    s.wakeup.notify_all();
                }
            } catch (...) {  // damage found while leaving: the next call reports it
            }
        }
    };

    // A deadline that passed while the barrier drained or reset, or while
    // its lock could not be had, breaks it, as a timeout does in Python.
    [[noreturn]] void timed_out(std::unique_lock<Lock>& hold) const {
        if (hold.owns_lock()) break_barrier();
        throw BrokenBarrierError("mpshm: Barrier " + name() + ": the wait timed out");
    }

    unsigned wait_until(const detail::Deadline& deadline) {
        auto hold = locked(deadline);
        if (!hold.owns_lock()) timed_out(hold);
        auto& s = state();
        // Python's _enter(): wait while the barrier drains or resets.
        while (s.phase == 1 || s.phase == -1) {
            if (detail::passed(deadline) || !nap(hold, deadline)) timed_out(hold);
            reap_dead_parties();
        }
        if (s.phase < 0) broken_error();
        // A party that died waiting can never arrive: the barrier breaks now,
        // even for the party that would have been the last.
        if (reap_dead_parties()) {
            break_barrier();
            broken_error();
        }
        if (s.count >= parties_) corrupt("every party is inside already");
        std::uint32_t slot = 0;
        while (slot < parties_ && slots()[slot] != 0) ++slot;
        if (slot == parties_) corrupt("every slot is taken, though a party is missing");
        const std::uint32_t index = s.count++;
        slots()[slot] = static_cast<std::int64_t>(detail::os::current_pid());
        const Leave leave{*this, hold, slot};
        if (index + 1 == parties_) {
            // The last to arrive runs the action, then releases the others.
            if (action_ != nullptr) {
                try {
                    action_();
                } catch (...) {
                    break_barrier();
                    throw;
                }
            }
            s.phase = 1;
            s.wakeup.notify_all();
        } else {
            while (s.phase == 0) {
                if (!nap(hold, deadline)) timed_out(hold);
                if (s.phase != 0) break;
                if (detail::passed(deadline) || reap_dead_parties()) break_barrier();
            }
            if (s.phase < 0) broken_error();
        }
        return index;
    }

    std::uint32_t parties_;                           // as made: the bound of the slots
    std::optional<std::chrono::nanoseconds> timeout_;  // wait()'s default
    Action action_ = nullptr;
};

namespace detail {

// A Barrier travels to a spawned child by name with its action, as an
// offset into this program's code that the child checks before calling it.
template <>
struct arg_traits<Barrier> {
    static constexpr bool travels = true;
    using stored = Barrier;
    static stored store(const Barrier& b) { return b; }
    static Barrier live(const stored& b) { return b; }
    static void encode(const stored& b, Encoder& out) {
        out.string(b.name());
        out.value(static_cast<std::int64_t>(b.action() != nullptr ? code_offset(b.action()) : 0));
    }
    static Barrier decode(Decoder& in) {
        const std::string name = in.string();
        const auto offset = in.value<std::int64_t>();
        if (offset == 0) return Barrier::attach(name);
        Barrier::Action action = program_code_at<void()>(offset);
        if (action == nullptr) {
            throw Error("mpshm: spawned process: the action of Barrier " + name +
                        " is not in this program");
        }
        return Barrier::attach(name, action);
    }
};

}  // namespace detail
}  // namespace mpshm
