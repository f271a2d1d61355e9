// mpshm fuzzing: guard pages around every shared mapping.
//
// AddressSanitizer knows nothing of memory from mmap, and the kernel fills
// the rest of a segment's last page with zeros: a read a little past a
// segment's end would go unnoticed. Linked with -Wl,--wrap=mmap,--wrap=munmap,
// this places every shared file mapping (each segment mpshm maps) between two
// inaccessible pages and, under AddressSanitizer, poisons the bytes from the
// segment's end to its last page's end. A read past either end of a segment
// is then a sanitizer report or a SIGSEGV, never a silent zero.
// SPDX-License-Identifier: MIT
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MPSHM_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MPSHM_FUZZ_ASAN 1
#endif
#ifdef MPSHM_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

extern "C" void* __real_mmap(void* addr, std::size_t length, int prot, int flags, int fd,
                             off_t offset);
extern "C" int __real_munmap(void* addr, std::size_t length);

namespace {

struct Guarded {
    char* start = nullptr;  // what mmap returned
    std::size_t length = 0;
    char* reserve = nullptr;  // the guard pages and all between
    std::size_t reserved = 0;
};

std::mutex registry_mutex;
std::array<Guarded, 1024> registry;

void poison(char* start, std::size_t n, bool on) {
#ifdef MPSHM_FUZZ_ASAN
    if (on) {
        __asan_poison_memory_region(start, n);
    } else {
        __asan_unpoison_memory_region(start, n);
    }
#else
    (void)start;
    (void)n;
    (void)on;
#endif
}

}  // namespace

extern "C" void* __wrap_mmap(void* addr, std::size_t length, int prot, int flags, int fd,
                             off_t offset) {
    if (addr != nullptr || fd < 0 || (flags & MAP_SHARED) == 0 || (flags & MAP_FIXED) != 0 ||
        length == 0) {
        return __real_mmap(addr, length, prot, flags, fd, offset);
    }
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t rounded = (length + page - 1) / page * page;
    const std::size_t reserved = rounded + 2 * page;
    const std::lock_guard lock(registry_mutex);
    Guarded* slot = nullptr;
    for (auto& g : registry) {
        if (g.start == nullptr) {
            slot = &g;
            break;
        }
    }
    if (slot == nullptr) return __real_mmap(addr, length, prot, flags, fd, offset);
    void* reserve = __real_mmap(nullptr, reserved, PROT_NONE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserve == MAP_FAILED) return __real_mmap(addr, length, prot, flags, fd, offset);
    char* start = static_cast<char*>(reserve) + page;
    if (__real_mmap(start, length, prot, flags | MAP_FIXED, fd, offset) == MAP_FAILED) {
        const int err = errno;
        __real_munmap(reserve, reserved);
        errno = err;
        return MAP_FAILED;
    }
    poison(start + length, rounded - length, true);
    *slot = {start, length, static_cast<char*>(reserve), reserved};
    return start;
}

extern "C" int __wrap_munmap(void* addr, std::size_t length) {
    {
        const std::lock_guard lock(registry_mutex);
        for (auto& g : registry) {
            if (g.start != nullptr && g.start == addr) {
                const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
                poison(g.start + g.length, g.reserved - 2 * page - g.length, false);
                const int result = __real_munmap(g.reserve, g.reserved);
                g = Guarded{};
                return result;
            }
        }
    }
    return __real_munmap(addr, length);
}
