// mpshm: the shared part of Semaphore, Event, Barrier and Queue: a State
// struct (and, for some, a variable tail of bytes) in a segment of its own,
// guarded by the segment's own robust Lock.
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include <mpshm/detail/shared_segment.hpp>
#include <mpshm/detail/synchronized.hpp>
#include <mpshm/detail/wakeup.hpp>
#include <mpshm/lock.hpp>

namespace mpshm::detail {

template <typename State>
class SharedPrimitive : protected Synchronized<std::byte, Lock> {
    using Base = Synchronized<std::byte, Lock>;

  public:
    using Base::name;

  protected:
    static Layout layout(Kind kind, const char* type_name, std::uint64_t tag) {
        return {kind, LockKind::lock, 1, 1, tag, std::nullopt, type_name};
    }

    // Creates the segment: STATE first, then EXTRA bytes, all zero, and
    // INIT(state, tail) before the segment is published.
    template <typename Init>
    SharedPrimitive(const Layout& layout, std::size_t extra, const SegmentOptions& options,
                    Init&& init)
        : Base(Base::create(layout, sizeof(State) + extra, nullptr, options,
                            [&](std::byte* data) {
                                init(*reinterpret_cast<State*>(data), data + sizeof(State));
                            }),
               nullptr) {}

    // Attaches, checking that the segment can hold a State at all.
    SharedPrimitive(std::string_view name, const Layout& layout)
        : Base(SharedSegment::attach(name, layout), nullptr) {
        if (this->segment()->count() < sizeof(State)) {
            throw CorruptSegmentError(
                segment_message(name, std::string("cannot attach as ") + layout.type_name,
                                "too small for its state"));
        }
    }

    [[nodiscard]] State& state() const noexcept { return *reinterpret_cast<State*>(this->data()); }
    [[nodiscard]] std::byte* tail() const noexcept { return this->data() + sizeof(State); }
    [[nodiscard]] std::size_t tail_size() const noexcept {
        return static_cast<std::size_t>(this->segment()->count()) - sizeof(State);
    }
    [[nodiscard]] Lock& mutex() const noexcept { return this->get_lock(); }

    // Takes the internal lock. If a holder died holding it since the state
    // was last repaired, the state may be half-changed: REPAIR puts it right
    // before anyone reads it. (Counted in the header, not taken from this
    // acquisition, so that a recovery seen by any acquisition, nested or in
    // a wait, is repaired exactly once.)
    template <typename Repair>
    [[nodiscard]] std::unique_lock<Lock> lock_state(Repair&& repair) const {
        std::unique_lock<Lock> hold(mutex());
        repair_if_needed(repair);
        return hold;
    }

    // The same for a call with DEADLINE (none: blocks): the lock is taken by
    // lock_deadline(DEADLINE) at the latest, and the result does not own it
    // if that ran out. A call that does not block passes brief().
    template <typename Repair>
    [[nodiscard]] std::unique_lock<Lock> lock_state(const Deadline& deadline,
                                                    Repair&& repair) const {
        if (!deadline) return lock_state(repair);
        if (!mutex().acquire_until(lock_deadline(deadline))) return {};
        std::unique_lock<Lock> hold(mutex(), std::adopt_lock);
        repair_if_needed(repair);
        return hold;
    }

    // The deadline of a call that does not block: now.
    static Deadline brief() { return std::chrono::steady_clock::now(); }

    // Wakeup::wait for a state guarded by lock_state: the lock is taken
    // again inside, possibly from a holder that died meanwhile. Returns
    // whether it was woken in time; HOLD owns the lock afterwards unless the
    // deadline ran out before the lock could be taken back.
    template <typename Repair>
    bool wait_state(std::unique_lock<Lock>& hold, Wakeup& wakeup, const Deadline& deadline,
                    Repair&& repair) const {
        const Waited waited = wakeup.wait(mutex(), deadline);
        if (waited == Waited::lock_lost) {
            (void)hold.release();  // not ours any more: nothing to unlock
            return false;
        }
        repair_if_needed(repair);
        return waited == Waited::woken;
    }

  private:
    template <typename Repair>
    void repair_if_needed(Repair& repair) const {
        auto& header = this->segment()->header();
        const std::uint32_t recoveries = header.recovery_count().load(std::memory_order_relaxed);
        if (header.repaired != recoveries) {
            repair();
            header.repaired = recoveries;
        }
    }
};

}  // namespace mpshm::detail
