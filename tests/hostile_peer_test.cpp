// A hostile peer: while one process keeps using an object (with timed calls
// only, and lock-free operations), another writes random bytes at random
// offsets of its segment, header and lock word included. Errors are fine;
// a signal, an abort, or a timed call that overruns its timeout is not.
// MPSHM_HOSTILE_SECONDS sets how long each object is attacked (default 1).
// SPDX-License-Identifier: MIT
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;
using mpshm_test::exit_code;

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds attack_time() {
    const char* s = std::getenv("MPSHM_HOSTILE_SECONDS");
    const double seconds = s != nullptr ? std::atof(s) : 1.0;
    return std::chrono::milliseconds(static_cast<long long>((seconds > 0 ? seconds : 1.0) * 1000));
}

// What a timed call may take beyond its timeout: the internal lock's grace
// and the scheduling of a loaded 2-core machine.
constexpr auto slack = 1500ms;

// The user's exit codes.
constexpr int ok = 0;
constexpr int overran = 2;
constexpr int unexpected = 3;

// Writes random bytes at random offsets of segment NAME, for ever: now and
// then a value a lock or a count might hold (0, ~0, 1, our own pid).
[[noreturn]] void scribble(const std::string& name, std::uint64_t seed) {
    mp::SharedMemory raw(name);
    const auto bytes = raw.buf();
    std::mt19937_64 random(seed);
    const auto pid = static_cast<std::uint64_t>(::getpid());
    const std::uint64_t interesting[] = {0, ~std::uint64_t{0}, 1, 2, pid, pid << 32U, 0x7fffffff};
    for (;;) {
        const std::size_t width = std::size_t{1} << (random() % 4);  // 1, 2, 4 or 8 bytes
        if (bytes.size() < width) continue;
        const std::size_t at = random() % (bytes.size() - width + 1);
        const std::uint64_t value =
            random() % 4 == 0 ? interesting[random() % std::size(interesting)] : random();
        std::memcpy(bytes.data() + at, &value, width);
    }
}

// Runs USE_ONCE again and again in one child, and the scribbler in another,
// for attack_time(); the user must end by itself, with `ok`. USE_ONCE works
// on the object made before the attack (its handle's bounds are its own),
// and may attach again (attach refuses what it finds damaged).
void survive(const std::string& name,
             const std::function<void(const std::function<void(Clock::duration)>&)>& use_once) {
    const auto duration = attack_time();
    const ::pid_t scribbler = mpshm_test::start_child([&] {
        scribble(name, std::random_device{}());
        return 0;
    });
    const ::pid_t user = mpshm_test::start_child([&] {
        const auto end = Clock::now() + duration;
        int code = ok;
        while (Clock::now() < end && code == ok) {
            try {
                use_once([&](Clock::duration past_timeout) {
                    if (past_timeout > Clock::duration::zero()) code = overran;
                });
            } catch (const mp::Error&) {  // damage found and said: fine
            } catch (const std::logic_error&) {  // std::invalid_argument, std::out_of_range
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: unexpected %s\n", name.c_str(), e.what());
                code = unexpected;
            }
        }
        return code;
    });
    const std::optional<int> status = mpshm_test::wait_child_for(user, duration + 60s);
    ::kill(scribbler, SIGKILL);
    mpshm_test::wait_child(scribbler);
    if (!status) {
        ::kill(user, SIGKILL);
        mpshm_test::wait_child(user);
        FAIL() << name << ": the user hung";
    }
    EXPECT_EQ(exit_code(*status), ok)
        << name << ": " << overran << " is a timed call that overran, negative a signal";
}

// Measures CALL, a call with TIMEOUT, and reports how far past its timeout
// (and the slack) it returned: a positive duration is an overrun.
template <typename Call>
void timed(const std::function<void(Clock::duration)>& report, Clock::duration timeout,
           Call&& call) {
    const auto start = Clock::now();
    try {
        call();
    } catch (...) {
        report(Clock::now() - start - timeout - slack);
        throw;
    }
    report(Clock::now() - start - timeout - slack);
}

using Report = std::function<void(Clock::duration)>;

}  // namespace

TEST(HostilePeer, Value) {
    mp::Value<std::int64_t> v(0);
    survive(v.name(), [&](const Report& report) {
        auto& attached = v;
        try {
            (void)mp::Value<std::int64_t>::attach(v.name());
        } catch (const mp::Error&) {
        }
        for (int i = 0; i < 100; ++i) {
            timed(report, 10ms, [&] {
                if (attached.get_lock().acquire(10ms)) {
                    attached.get_obj() += 1;
                    attached.get_lock().unlock();
                }
            });
            attached.fetch_add(1);
            (void)attached.get_lock().previous_owner_died();
        }
    });
}

TEST(HostilePeer, Array) {
    mp::Array<std::int32_t, 64> a;
    survive(a.name(), [&](const Report& report) {
        auto& attached = a;
        try {
            (void)mp::Array<std::int32_t, 64>::attach(a.name());
        } catch (const mp::Error&) {
        }
        for (std::ptrdiff_t i = 0; i < 64; ++i) {
            timed(report, 10ms, [&] {
                if (attached.get_lock().acquire(10ms)) {
                    attached.get_obj()[static_cast<std::size_t>(i)] += 1;
                    attached.get_lock().unlock();
                }
            });
            attached.fetch_add(i, 1);
        }
    });
}

TEST(HostilePeer, QueueOfNumbers) {
    mp::Queue<std::int64_t> q(mp::QueueOptions{.capacity = 256});
    survive(q.name(), [&](const Report& report) {
        auto& attached = q;
        try {
            (void)mp::Queue<std::int64_t>::attach(q.name());
        } catch (const mp::Error&) {
        }
        for (std::int64_t i = 0; i < 50; ++i) {
            timed(report, 5ms, [&] {
                try {
                    attached.put(i, 5ms);
                } catch (const mp::Full&) {
                }
            });
            timed(report, 5ms, [&] {
                try {
                    (void)attached.get(5ms);
                } catch (const mp::Empty&) {
                }
            });
            timed(report, 0ms, [&] {
                try {
                    (void)attached.get_nowait();
                } catch (const mp::Empty&) {
                }
            });
        }
    });
}

TEST(HostilePeer, QueueOfStrings) {
    mp::Queue<std::string> q(mp::QueueOptions{.capacity = 512});
    survive(q.name(), [&](const Report& report) {
        auto& attached = q;
        for (int i = 0; i < 50; ++i) {
            timed(report, 5ms, [&] {
                try {
                    attached.put(std::string(static_cast<std::size_t>(i), 'x'), 5ms);
                } catch (const mp::Full&) {
                }
            });
            timed(report, 5ms, [&] {
                try {
                    (void)attached.get(5ms);
                } catch (const mp::Empty&) {
                }
            });
        }
    });
}

TEST(HostilePeer, ShareableList) {
    mp::ShareableList sl({std::int64_t{1}, 2.5, std::string("text"), mp::Bytes{"raw"}, mp::None{},
                          true});
    survive(sl.name(), [&](const Report&) {
        auto& attached = sl;
        try {
            (void)mp::ShareableList::attach(sl.name());
        } catch (const mp::Error&) {
        }
        for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(attached.size()); ++i) {
            (void)attached[i];
            attached.set(i, std::int64_t{i});
            (void)attached.count(std::int64_t{1});
        }
        (void)attached.format();
        std::ostringstream out;
        out << attached;
    });
}

TEST(HostilePeer, Barrier) {
    mp::Barrier barrier(2);
    survive(barrier.name(), [&](const Report& report) {
        auto& attached = barrier;
        timed(report, 5ms, [&] {
            try {
                (void)attached.wait(5ms);
            } catch (const mp::BrokenBarrierError&) {
            }
        });
    });
}

TEST(HostilePeer, Event) {
    mp::Event event;
    survive(event.name(), [&](const Report& report) {
        auto& attached = event;
        timed(report, 5ms, [&] { (void)attached.wait(5ms); });
    });
}

TEST(HostilePeer, Semaphore) {
    mp::Semaphore sem(1);
    survive(sem.name(), [&](const Report& report) {
        auto& attached = sem;
        timed(report, 5ms, [&] {
            if (attached.acquire(5ms)) attached.release();
        });
        timed(report, 0ms, [&] {
            if (attached.acquire(false)) attached.release();
        });
    });
}

TEST(HostilePeer, Lock) {
    mp::RLock lock;
    survive(lock.name(), [&](const Report& report) {
        auto& attached = lock;
        timed(report, 5ms, [&] {
            if (attached.acquire(5ms)) attached.unlock();
        });
    });
}
