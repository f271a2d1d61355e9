// Array: element increments under the default robust RLock against a raw
// std::atomic in a SharedMemory segment (one process, uncontended), and bulk
// copies into and out of an Array<std::uint8_t> against memcpy between two
// plain buffers of the same size.
//
// Every benchmark reports ns_per_op: wall-clock nanoseconds per increment,
// or per whole copy (the copies also report bytes_per_second).
//
//   array/increment/{mpshm,mpshm_lock,mpshm_fetch_add,raw_atomic}
//   array/copy/{mpshm,mpshm_guard_memcpy,memcpy}/SIZE       into the array: a[:] = values
//   array/copy_out/{mpshm,mpshm_to_vector,mpshm_guard_memcpy,memcpy}/SIZE
//                                                            out of it: list(a)
//
// mpshm is Array::assign() (copy) and Array::copy_to() (copy_out) into a
// caller's buffer, as memcpy is; mpshm_to_vector also allocates a new vector
// each time (Python's list(a)); mpshm_guard_memcpy is memcpy under
// `auto g = a.lock()`.
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mpshm/mpshm.hpp>
#include <new>
#include <numeric>
#include <span>
#include <string>
#include <vector>

namespace mp = mpshm;

namespace {

constexpr std::size_t counters = 8;  // a[i & 7] += 1

// Wall-clock time from its construction to report(): the timed loop.
class WallClock {
  public:
    void report(benchmark::State& state, double ops_per_iteration = 1.0) const {
        const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start_;
        const double ops = static_cast<double>(state.iterations()) * ops_per_iteration;
        state.counters["ns_per_op"] = ops > 0 ? elapsed.count() / ops : 0.0;
    }

  private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point start_ = Clock::now();
};

void check_total(benchmark::State& state, std::int64_t total) {
    if (total != static_cast<std::int64_t>(state.iterations()))
        state.SkipWithError("the counters do not add up to the number of increments");
}

template <typename LockPolicy>
void mpshm_increment(benchmark::State& state) {
    mp::Array<std::int64_t, mp::dynamic_extent, LockPolicy> a(counters);
    std::size_t i = 0;
    const WallClock clock;
    for (auto _ : state) a[static_cast<std::ptrdiff_t>(i++ & (counters - 1))] += 1;
    clock.report(state);
    const std::vector<std::int64_t> values = a.to_vector();
    check_total(state, std::accumulate(values.begin(), values.end(), std::int64_t{0}));
}

void BM_IncrementRLock(benchmark::State& state) {
    mpshm_increment<mp::RLock>(state);
}
BENCHMARK(BM_IncrementRLock)->Name("array/increment/mpshm");

void BM_IncrementLock(benchmark::State& state) {
    mpshm_increment<mp::Lock>(state);
}
BENCHMARK(BM_IncrementLock)->Name("array/increment/mpshm_lock");

void BM_IncrementFetchAdd(benchmark::State& state) {
    mp::Array<std::int64_t> a(counters);
    std::size_t i = 0;
    const WallClock clock;
    for (auto _ : state) a.fetch_add(static_cast<std::ptrdiff_t>(i++ & (counters - 1)), 1);
    clock.report(state);
    const std::vector<std::int64_t> values = a.to_vector();
    check_total(state, std::accumulate(values.begin(), values.end(), std::int64_t{0}));
}
BENCHMARK(BM_IncrementFetchAdd)->Name("array/increment/mpshm_fetch_add");

void BM_IncrementRawAtomic(benchmark::State& state) {
    mp::SharedMemory shm({.create = true, .size = counters * sizeof(std::atomic<std::int64_t>)});
    auto* c = reinterpret_cast<std::atomic<std::int64_t>*>(shm.buf().data());
    for (std::size_t k = 0; k < counters; ++k) new (c + k) std::atomic<std::int64_t>(0);
    std::size_t i = 0;
    const WallClock clock;
    for (auto _ : state) c[i++ & (counters - 1)].fetch_add(1);
    clock.report(state);
    std::int64_t total = 0;
    for (std::size_t k = 0; k < counters; ++k) total += c[k].load();
    check_total(state, total);
}
BENCHMARK(BM_IncrementRawAtomic)->Name("array/increment/raw_atomic");

// ---- bulk copies ---------------------------------------------------------------

constexpr std::size_t copy_sizes[] = {std::size_t{1} << 10U, std::size_t{64} << 10U,
                                      std::size_t{1} << 20U, std::size_t{64} << 20U};

std::vector<std::uint8_t> pattern(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 131U + 7U) >> 3U);
    return v;
}

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

void finish_copy(benchmark::State& state, const WallClock& clock, std::size_t n, bool ok) {
    clock.report(state);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(n));
    if (!ok) state.SkipWithError("the copy does not hold the source's bytes");
}

void copy_in_assign(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    mp::Array<std::uint8_t> a(n);
    std::memset(a.get_obj().data(), 0, n);  // touched: no page faults in the loop
    const WallClock clock;
    for (auto _ : state) {
        a.assign(src);
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(a.get_obj(), src));
}

void copy_in_guard(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    mp::Array<std::uint8_t> a(n);
    std::memset(a.get_obj().data(), 0, n);  // touched: no page faults in the loop
    const WallClock clock;
    for (auto _ : state) {
        const auto g = a.lock();
        std::memcpy(g.span().data(), src.data(), n);
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(a.get_obj(), src));
}

void copy_out_to_vector(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    mp::Array<std::uint8_t> a{std::span<const std::uint8_t>(src)};
    std::vector<std::uint8_t> out;
    const WallClock clock;
    for (auto _ : state) {
        out = a.to_vector();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(out, src));
}

void copy_out_copy_to(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    mp::Array<std::uint8_t> a{std::span<const std::uint8_t>(src)};
    std::vector<std::uint8_t> out(n);  // touched: no page faults in the loop
    const WallClock clock;
    for (auto _ : state) {
        a.copy_to(out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(out, src));
}

void copy_out_guard(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    mp::Array<std::uint8_t> a{std::span<const std::uint8_t>(src)};
    std::vector<std::uint8_t> out(n);
    const WallClock clock;
    for (auto _ : state) {
        const auto g = a.lock();
        std::memcpy(out.data(), g.span().data(), n);
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(out, src));
}

void plain_memcpy(benchmark::State& state, std::size_t n) {
    const std::vector<std::uint8_t> src = pattern(n);
    std::vector<std::uint8_t> dst(n);  // touched: no page faults in the loop
    const WallClock clock;
    for (auto _ : state) {
        std::memcpy(dst.data(), src.data(), n);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
    }
    finish_copy(state, clock, n, same(dst, src));
}

void register_copies() {
    struct Variant {
        const char* name;
        void (*run)(benchmark::State&, std::size_t);
    };
    const Variant variants[] = {
        {"array/copy/mpshm/", copy_in_assign},
        {"array/copy/mpshm_guard_memcpy/", copy_in_guard},
        {"array/copy/memcpy/", plain_memcpy},
        {"array/copy_out/mpshm/", copy_out_copy_to},
        {"array/copy_out/mpshm_to_vector/", copy_out_to_vector},
        {"array/copy_out/mpshm_guard_memcpy/", copy_out_guard},
        {"array/copy_out/memcpy/", plain_memcpy},
    };
    for (const Variant& v : variants) {
        for (const std::size_t n : copy_sizes) {
            const std::string name = v.name + std::to_string(n);
            benchmark::RegisterBenchmark(name.c_str(), v.run, n);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    mp::freeze_support();
    register_copies();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
