// Contended increments of one shared 64-bit counter by P = 1, 2, 4 and 8
// processes: mpshm's Value with its default robust RLock, with a plain Lock,
// and lock-free, against the raw primitives underneath (std::atomic in a
// segment, process-shared pthread mutexes with and without robustness,
// Boost.Interprocess's mutex). CPython's figures come from python_peers.py;
// compare.py runs both and prints the ratios.
//
// Each round forks P workers (not timed), releases them together through a
// pipe, and times from the first worker's start to the last one's end, on
// the monotonic clock all processes share. Every round checks the count.
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mpshm/mpshm.hpp>
#include <new>
#include <string>
#include <vector>

namespace mp = mpshm;

namespace {

constexpr std::int64_t ops_per_process = 100'000;
constexpr int max_processes = 8;

// Where the workers of one round write when they started and finished.
struct Timeline {
    std::atomic<std::int64_t> start[max_processes];
    std::atomic<std::int64_t> end[max_processes];
};

std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Runs one round: P forked workers each call INCREMENT ops_per_process
// times. Returns the elapsed nanoseconds, or -1 if a worker failed.
std::int64_t run_round(int processes, Timeline& timeline, const std::function<void()>& increment) {
    int go[2];
    if (::pipe(go) != 0) return -1;
    std::vector<::pid_t> workers;
    for (int p = 0; p < processes; ++p) {
        const ::pid_t pid = ::fork();
        if (pid == 0) {
            ::close(go[1]);
            char c = 0;
            if (::read(go[0], &c, 1) != 1) ::_exit(1);
            timeline.start[p].store(now_ns());
            for (std::int64_t i = 0; i < ops_per_process; ++i) increment();
            timeline.end[p].store(now_ns());
            ::_exit(0);
        }
        if (pid < 0) break;
        workers.push_back(pid);
    }
    const std::string release(static_cast<std::size_t>(processes), 'g');
    const bool released =
        ::write(go[1], release.data(), release.size()) == static_cast<::ssize_t>(release.size());
    ::close(go[0]);
    ::close(go[1]);
    bool ok = released && static_cast<int>(workers.size()) == processes;
    for (const ::pid_t pid : workers) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!ok) return -1;
    std::int64_t first = timeline.start[0].load();
    std::int64_t last = timeline.end[0].load();
    for (int p = 1; p < processes; ++p) {
        first = std::min(first, timeline.start[p].load());
        last = std::max(last, timeline.end[p].load());
    }
    return last - first;
}

// A counter shared by the workers: INCREMENT adds one, COUNT reads the
// total, RESET sets it to zero.
struct Counter {
    std::function<void()> increment;
    std::function<std::int64_t()> count;
    std::function<void()> reset;
};

void contended(benchmark::State& state, const Counter& counter) {
    const int processes = static_cast<int>(state.range(0));
    mp::SharedMemory shm({.create = true, .size = sizeof(Timeline)});
    auto* timeline = new (shm.buf().data()) Timeline{};
    std::int64_t total_ns = 0;
    std::int64_t total_ops = 0;
    for (auto _ : state) {
        counter.reset();
        const std::int64_t elapsed = run_round(processes, *timeline, counter.increment);
        const std::int64_t expected = ops_per_process * processes;
        if (elapsed < 0) {
            state.SkipWithError("a worker process failed");
            break;
        }
        if (counter.count() != expected) {
            state.SkipWithError(("lost updates: counted " + std::to_string(counter.count()) +
                                 " of " + std::to_string(expected))
                                    .c_str());
            break;
        }
        state.SetIterationTime(static_cast<double>(elapsed) * 1e-9);
        total_ns += elapsed;
        total_ops += expected;
    }
    if (total_ops > 0) {
        state.counters["ns_per_op"] =
            static_cast<double>(total_ns) / static_cast<double>(total_ops);
        state.counters["processes"] = processes;
    }
}

template <typename LockPolicy>
void value_plus_equals(benchmark::State& state) {
    mp::Value<std::int64_t, LockPolicy> v(0);
    contended(state, {[&] { v += 1; }, [&] { return v.load(); }, [&] { v.store(0); }});
}

void value_fetch_add(benchmark::State& state) {
    mp::Value<std::int64_t> v(0);
    contended(state, {[&] { v.fetch_add(1); }, [&] { return v.load(); }, [&] { v.store(0); }});
}

// The raw peers keep their lock and counter in one segment, on separate
// cache lines, as Value does.
struct RawSegment {
    mp::SharedMemory shm{{.create = true, .size = 256}};
    std::int64_t* counter = reinterpret_cast<std::int64_t*>(shm.buf().data() + 128);
    std::byte* lock_space = shm.buf().data();
};

void raw_atomic(benchmark::State& state) {
    RawSegment raw;
    auto* counter = new (raw.counter) std::atomic<std::int64_t>(0);
    contended(state, {[=] { counter->fetch_add(1); }, [=] { return counter->load(); },
                      [=] { counter->store(0); }});
}

void raw_pthread_mutex(benchmark::State& state, bool robust) {
    RawSegment raw;
    auto* mutex = reinterpret_cast<pthread_mutex_t*>(raw.lock_space);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (robust) pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    std::int64_t* counter = raw.counter;
    contended(state, {[=] {
                          pthread_mutex_lock(mutex);
                          ++*counter;
                          pthread_mutex_unlock(mutex);
                      },
                      [=] { return *counter; }, [=] { *counter = 0; }});
    pthread_mutex_destroy(mutex);
}

void boost_interprocess_mutex(benchmark::State& state) {
    RawSegment raw;
    auto* mutex = new (raw.lock_space) boost::interprocess::interprocess_mutex;
    std::int64_t* counter = raw.counter;
    contended(state, {[=] {
                          mutex->lock();
                          ++*counter;
                          mutex->unlock();
                      },
                      [=] { return *counter; }, [=] { *counter = 0; }});
    mutex->~interprocess_mutex();
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::pair<std::string, std::function<void(benchmark::State&)>>> variants = {
        {"value_rlock", value_plus_equals<mp::RLock>},
        {"value_lock", value_plus_equals<mp::Lock>},
        {"value_fetch_add", value_fetch_add},
        {"raw_atomic", raw_atomic},
        {"raw_pthread_mutex", [](benchmark::State& s) { raw_pthread_mutex(s, false); }},
        {"raw_robust_pthread_mutex", [](benchmark::State& s) { raw_pthread_mutex(s, true); }},
        {"boost_interprocess_mutex", boost_interprocess_mutex},
    };
    for (const auto& [name, run] : variants) {
        benchmark::RegisterBenchmark(("contended/" + name).c_str(), run)
            ->ArgName("processes")
            ->Arg(1)
            ->Arg(2)
            ->Arg(4)
            ->Arg(8)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
