// Start and join of a process that does nothing: mpshm's Process under the
// fork and spawn start methods, against the raw system calls (fork + _exit +
// waitpid, and posix_spawn of this executable + waitpid).
//
// Every benchmark reports ns_per_op: wall-clock nanoseconds per start+join,
// measured in this process (manual time, so the names end in /manual_time).
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <mpshm/mpshm.hpp>
#include <string_view>

namespace mp = mpshm;

namespace {

// A spawned raw child is a fresh run of this program with this argument: it
// returns from main() at once.
constexpr std::string_view raw_spawn_flag = "--raw-spawn-child";

// Times each start+join (the time is spent across processes, so the
// benchmarks use manual time), and reports ns_per_op.
class StartJoinTimer {
  public:
    void start() { t0_ = Clock::now(); }
    void stop(benchmark::State& state) {
        const std::chrono::duration<double> elapsed = Clock::now() - t0_;
        state.SetIterationTime(elapsed.count());
        seconds_ += elapsed.count();
        ++joined_;
    }
    void report(benchmark::State& state) const {
        const auto n = static_cast<double>(state.iterations());
        state.counters["ns_per_op"] = n > 0 ? seconds_ * 1e9 / n : 0.0;
        if (!state.error_occurred() && joined_ != static_cast<std::int64_t>(state.iterations()))
            state.SkipWithError("not every child was joined");
    }

  private:
    using Clock = std::chrono::steady_clock;
    Clock::time_point t0_;
    double seconds_ = 0;
    std::int64_t joined_ = 0;
};

// Waits for PID; true when it exited normally with status 0.
bool reaped_cleanly(::pid_t pid) {
    int status = 0;
    ::pid_t r = 0;
    do {
        r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    return r == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void noop() {}

void mpshm_start_join(benchmark::State& state, mp::StartMethod method) {
    StartJoinTimer timer;
    for (auto _ : state) {
        timer.start();
        mp::Process p(mp::ProcessOptions{.start_method = method}, noop);
        p.start();
        p.join();
        if (p.exitcode() != 0) {
            state.SkipWithError("a child did not exit with code 0");
            break;
        }
        timer.stop(state);
    }
    timer.report(state);
}

void BM_ForkMpshm(benchmark::State& state) {
    mpshm_start_join(state, mp::StartMethod::fork);
}
BENCHMARK(BM_ForkMpshm)->Name("process/fork/mpshm")->UseManualTime();

void BM_SpawnMpshm(benchmark::State& state) {
    mpshm_start_join(state, mp::StartMethod::spawn);
}
BENCHMARK(BM_SpawnMpshm)->Name("process/spawn/mpshm")->UseManualTime();

void BM_ForkRaw(benchmark::State& state) {
    std::fflush(nullptr);  // the child leaves by _exit, which flushes nothing
    StartJoinTimer timer;
    for (auto _ : state) {
        timer.start();
        const ::pid_t pid = ::fork();
        if (pid == 0) ::_exit(0);
        if (pid < 0 || !reaped_cleanly(pid)) {
            state.SkipWithError("fork failed or the child did not exit with code 0");
            break;
        }
        timer.stop(state);
    }
    timer.report(state);
}
BENCHMARK(BM_ForkRaw)->Name("process/fork/raw")->UseManualTime();

void BM_SpawnRaw(benchmark::State& state) {
    char exe[] = "/proc/self/exe";
    char flag[] = "--raw-spawn-child";
    char* argv[] = {exe, flag, nullptr};
    std::fflush(nullptr);
    StartJoinTimer timer;
    for (auto _ : state) {
        timer.start();
        ::pid_t pid = 0;
        if (::posix_spawn(&pid, exe, nullptr, nullptr, argv, environ) != 0 ||
            !reaped_cleanly(pid)) {
            state.SkipWithError("posix_spawn failed or the child did not exit with code 0");
            break;
        }
        timer.stop(state);
    }
    timer.report(state);
}
BENCHMARK(BM_SpawnRaw)->Name("process/spawn/raw")->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
    mp::freeze_support();  // a child spawned by mpshm runs noop() here and exits
    if (argc > 1 && argv[1] == raw_spawn_flag) return 0;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
