// mpshm: Lock and RLock, shareable between processes (Python's
// multiprocessing.Lock and RLock).
// SPDX-License-Identifier: MIT
#pragma once

#include <string_view>

#include <mpshm/detail/basic_lock.hpp>

namespace mpshm {

// Python's multiprocessing.Lock, robust: if its owner dies holding it, the
// next acquire() gets it and previous_owner_died() says so. Re-acquiring
// from the owning thread throws mpshm::Error instead of deadlocking.
class Lock : public detail::BasicLock<false> {
  public:
    using BasicLock::BasicLock;
    static Lock attach(std::string_view name) { return Lock(attach_segment(name)); }

  private:
    template <typename>
    friend struct detail::LockAccess;
    explicit Lock(std::shared_ptr<detail::SharedSegment> s) : BasicLock(std::move(s)) {}
};

// Python's multiprocessing.RLock: the owning thread may acquire it again and
// must release it as many times. Robust like Lock.
class RLock : public detail::BasicLock<true> {
  public:
    using BasicLock::BasicLock;
    static RLock attach(std::string_view name) { return RLock(attach_segment(name)); }

  private:
    template <typename>
    friend struct detail::LockAccess;
    explicit RLock(std::shared_ptr<detail::SharedSegment> s) : BasicLock(std::move(s)) {}
};

}  // namespace mpshm
