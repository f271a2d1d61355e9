// mpshm: the shared part of Semaphore, Event, Barrier and Queue: a State
// struct (and, for some, a variable tail of bytes) in a segment of its own,
// guarded by the segment's own robust Lock.
// SPDX-License-Identifier: MIT
#pragma once

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

    // Wakeup::wait for a state guarded by lock_state: the lock is taken
    // again inside, possibly from a holder that died meanwhile.
    template <typename Repair>
    bool wait_state(Wakeup& wakeup, const Deadline& deadline, Repair&& repair) const {
        const bool in_time = wakeup.wait(mutex(), deadline);
        repair_if_needed(repair);
        return in_time;
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
