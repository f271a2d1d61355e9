// Uncontended increments of one shared 64-bit counter (P = 1): mpshm's Value
// with its default robust RLock, with a plain Lock, lock-free, against the raw
// primitives underneath (std::atomic, process-shared pthread mutexes with and
// without robustness, Boost.Interprocess's mutex). The contended multi-process
// comparison with CPython belongs to the benchmark scripts (issue 8).
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <atomic>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <cstdint>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

namespace {

void BM_Value_RLock_PlusEquals(benchmark::State& state) {
    mp::Value<std::int64_t> v(0);
    for (auto _ : state) v += 1;
    benchmark::DoNotOptimize(v.get_obj());
}
BENCHMARK(BM_Value_RLock_PlusEquals);

void BM_Value_Lock_PlusEquals(benchmark::State& state) {
    mp::Value<std::int64_t, mp::Lock> v(0);
    for (auto _ : state) v += 1;
    benchmark::DoNotOptimize(v.get_obj());
}
BENCHMARK(BM_Value_Lock_PlusEquals);

void BM_Value_FetchAdd(benchmark::State& state) {
    mp::Value<std::int64_t> v(0);
    for (auto _ : state) v.fetch_add(1);
    benchmark::DoNotOptimize(v.get_obj());
}
BENCHMARK(BM_Value_FetchAdd);

void BM_Raw_AtomicFetchAdd(benchmark::State& state) {
    mp::SharedMemory shm({.create = true, .size = 64});
    auto* counter = new (shm.buf().data()) std::atomic<std::int64_t>(0);
    for (auto _ : state) counter->fetch_add(1);
    benchmark::DoNotOptimize(counter->load());
}
BENCHMARK(BM_Raw_AtomicFetchAdd);

void raw_pthread_mutex(benchmark::State& state, bool robust) {
    mp::SharedMemory shm({.create = true, .size = 128});
    auto* mutex = reinterpret_cast<pthread_mutex_t*>(shm.buf().data());
    auto* counter = reinterpret_cast<std::int64_t*>(shm.buf().data() + 64);
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (robust) pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    for (auto _ : state) {
        pthread_mutex_lock(mutex);
        ++*counter;
        pthread_mutex_unlock(mutex);
    }
    benchmark::DoNotOptimize(*counter);
}

void BM_Raw_PthreadMutex(benchmark::State& state) {
    raw_pthread_mutex(state, false);
}
BENCHMARK(BM_Raw_PthreadMutex);

void BM_Raw_RobustPthreadMutex(benchmark::State& state) {
    raw_pthread_mutex(state, true);
}
BENCHMARK(BM_Raw_RobustPthreadMutex);

void BM_Raw_BoostInterprocessMutex(benchmark::State& state) {
    mp::SharedMemory shm({.create = true, .size = 128});
    auto* mutex = new (shm.buf().data()) boost::interprocess::interprocess_mutex;
    auto* counter = reinterpret_cast<std::int64_t*>(shm.buf().data() + 64);
    for (auto _ : state) {
        mutex->lock();
        ++*counter;
        mutex->unlock();
    }
    benchmark::DoNotOptimize(*counter);
}
BENCHMARK(BM_Raw_BoostInterprocessMutex);

}  // namespace

BENCHMARK_MAIN();
