// SharedMemory create+unlink and attach+close, against the raw system calls
// they wrap (shm_open, ftruncate, mmap, munmap, close, shm_unlink).
// SPDX-License-Identifier: MIT
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mpshm/shared_memory.hpp>
#include <stdexcept>
#include <string>

namespace mp = mpshm;

namespace {

constexpr std::size_t segment_size = 4096;

std::string bench_name(const char* tag) {
    return "mpshm_bench_" + std::to_string(::getpid()) + "_" + tag;
}

void* raw_create(const std::string& name, int& fd) {
    fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ::ftruncate(fd, segment_size) != 0) throw std::runtime_error("raw create");
    void* p = ::mmap(nullptr, segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) throw std::runtime_error("raw mmap");
    return p;
}

void BM_Raw_CreateUnlink(benchmark::State& state) {
    const std::string name = bench_name("raw_create");
    for (auto _ : state) {
        int fd = -1;
        void* p = raw_create(name, fd);
        benchmark::DoNotOptimize(p);
        ::munmap(p, segment_size);
        ::close(fd);
        ::shm_unlink(("/" + name).c_str());
    }
}
BENCHMARK(BM_Raw_CreateUnlink);

void BM_SharedMemory_CreateUnlink(benchmark::State& state) {
    const std::string name = bench_name("mpshm_create");
    for (auto _ : state) {
        mp::SharedMemory shm({.name = name, .create = true, .size = segment_size});
        benchmark::DoNotOptimize(shm.buf().data());
    }
}
BENCHMARK(BM_SharedMemory_CreateUnlink);

void BM_SharedMemory_CreateRandomNameUnlink(benchmark::State& state) {
    for (auto _ : state) {
        mp::SharedMemory shm({.create = true, .size = segment_size});
        benchmark::DoNotOptimize(shm.buf().data());
    }
}
BENCHMARK(BM_SharedMemory_CreateRandomNameUnlink);

void BM_Raw_AttachClose(benchmark::State& state) {
    const std::string name = bench_name("raw_attach");
    int owner_fd = -1;
    void* owner = raw_create(name, owner_fd);
    for (auto _ : state) {
        const int fd = ::shm_open(("/" + name).c_str(), O_RDWR, 0);
        struct stat st {};
        ::fstat(fd, &st);
        void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE,
                         MAP_SHARED, fd, 0);
        benchmark::DoNotOptimize(p);
        ::munmap(p, static_cast<std::size_t>(st.st_size));
        ::close(fd);
    }
    ::munmap(owner, segment_size);
    ::close(owner_fd);
    ::shm_unlink(("/" + name).c_str());
}
BENCHMARK(BM_Raw_AttachClose);

void BM_SharedMemory_AttachClose(benchmark::State& state) {
    mp::SharedMemory owner(
        {.name = bench_name("mpshm_attach"), .create = true, .size = segment_size});
    for (auto _ : state) {
        mp::SharedMemory shm(owner.name());
        benchmark::DoNotOptimize(shm.buf().data());
    }
}
BENCHMARK(BM_SharedMemory_AttachClose);

}  // namespace

BENCHMARK_MAIN();
