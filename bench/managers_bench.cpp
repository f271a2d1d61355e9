// Manager lists (append, lst[i] read, lst[i] += 1; one process) and a
// Queue<std::int64_t> round trip between two processes: a producer process
// puts N items, this process gets them.
//
// Every benchmark reports ns_per_op: wall-clock nanoseconds per list
// operation, or per item through the queue (manual time there, so that
// name ends in /manual_time).
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mpshm/mpshm.hpp>
#include <vector>

namespace mp = mpshm;

namespace {

constexpr std::size_t list_length = 1024;  // lst[i & 1023] for get and +=
// Appends between two clear()s, so that any number of iterations fits the
// Manager (clear() keeps the capacity: this is amortised append).
constexpr std::int64_t appends_per_clear = 1 << 16;
constexpr std::int64_t queue_items = 100'000;  // per round trip

using Clock = std::chrono::steady_clock;

// Wall-clock time from its construction to report(): the timed loop.
class WallClock {
  public:
    void report(benchmark::State& state, double ops_per_iteration = 1.0) const {
        const std::chrono::duration<double, std::nano> elapsed = Clock::now() - start_;
        const double ops = static_cast<double>(state.iterations()) * ops_per_iteration;
        state.counters["ns_per_op"] = ops > 0 ? elapsed.count() / ops : 0.0;
    }

  private:
    Clock::time_point start_ = Clock::now();
};

void BM_ListAppend(benchmark::State& state) {
    mp::Manager manager;
    auto lst = manager.list<std::int64_t>();
    std::int64_t i = 0;
    std::int64_t sum = 0;  // of the elements appended since the last clear()
    std::int64_t cleared = 0;
    const WallClock clock;
    for (auto _ : state) {
        lst.append(i);
        sum += i;
        if (++i % appends_per_clear == 0) {
            lst.clear();
            sum = 0;
            ++cleared;
        }
    }
    clock.report(state);
    const std::vector<std::int64_t> left = lst.to_vector();
    std::int64_t left_sum = 0;
    for (const std::int64_t x : left) left_sum += x;
    if (static_cast<std::int64_t>(left.size()) + cleared * appends_per_clear !=
            static_cast<std::int64_t>(state.iterations()) ||
        left_sum != sum)
        state.SkipWithError("the list does not hold what was appended");
}
BENCHMARK(BM_ListAppend)->Name("manager/list_append/mpshm");

std::vector<std::int64_t> iota_values() {
    std::vector<std::int64_t> v(list_length);
    for (std::size_t k = 0; k < list_length; ++k) v[k] = static_cast<std::int64_t>(k);
    return v;
}

void BM_ListGet(benchmark::State& state) {
    mp::Manager manager;
    const std::vector<std::int64_t> init = iota_values();
    auto lst = manager.list<std::int64_t>(std::span<const std::int64_t>(init));
    std::size_t i = 0;
    std::int64_t sum = 0, expected = 0;
    const WallClock clock;
    for (auto _ : state) {
        const std::int64_t x = lst[static_cast<std::ptrdiff_t>(i & (list_length - 1))];
        sum += x;
        expected += static_cast<std::int64_t>(i & (list_length - 1));
        ++i;
    }
    clock.report(state);
    if (sum != expected) state.SkipWithError("a read returned a wrong element");
}
BENCHMARK(BM_ListGet)->Name("manager/list_get/mpshm");

void BM_ListPlusEquals(benchmark::State& state) {
    mp::Manager manager;
    const std::vector<std::int64_t> init(list_length, 0);
    auto lst = manager.list<std::int64_t>(std::span<const std::int64_t>(init));
    std::size_t i = 0;
    const WallClock clock;
    for (auto _ : state) lst[static_cast<std::ptrdiff_t>(i++ & (list_length - 1))] += 1;
    clock.report(state);
    std::int64_t total = 0;
    for (const std::int64_t x : lst.to_vector()) total += x;
    if (total != static_cast<std::int64_t>(state.iterations()))
        state.SkipWithError("the elements do not add up to the number of increments");
}
BENCHMARK(BM_ListPlusEquals)->Name("manager/list_plus_equals/mpshm");

// Each iteration forks a producer that meets this process at a barrier (so
// that its start-up is not timed), then puts 0 .. N-1; the time runs from
// the barrier until this process has got all N items.
void BM_QueueRoundTrip(benchmark::State& state) {
    mp::Queue<std::int64_t> q;
    mp::Barrier start(2);
    const std::int64_t n = queue_items;
    double seconds = 0;
    for (auto _ : state) {
        mp::Process producer(mp::ProcessOptions{.start_method = mp::StartMethod::fork},
                             [&q, &start] {
                                 start.wait();
                                 for (std::int64_t k = 0; k < queue_items; ++k) q.put(k);
                             });
        producer.start();
        start.wait();
        const auto t0 = Clock::now();
        std::int64_t sum = 0, in_order = 0;
        for (std::int64_t k = 0; k < n; ++k) {
            const std::int64_t x = q.get();
            sum += x;
            in_order += x == k ? 1 : 0;  // one producer: first in, first out
        }
        const std::chrono::duration<double> elapsed = Clock::now() - t0;
        state.SetIterationTime(elapsed.count());
        seconds += elapsed.count();
        producer.join();
        if (producer.exitcode() != 0 || sum != n * (n - 1) / 2 || in_order != n || !q.empty()) {
            state.SkipWithError("the items that arrived are not the items put");
            break;
        }
    }
    const double items = static_cast<double>(state.iterations()) * static_cast<double>(n);
    state.counters["ns_per_op"] = items > 0 ? seconds * 1e9 / items : 0.0;
}
BENCHMARK(BM_QueueRoundTrip)->Name("queue/roundtrip/mpshm")->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
    mp::freeze_support();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
