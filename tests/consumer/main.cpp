// The smallest user of mpshm: one segment, written, attached, read back.
#include <cstring>
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

int main() {
    mp::SharedMemory shm({.create = true, .size = 64});
    std::memcpy(shm.buf().data(), "consumer", 8);
    mp::SharedMemory other(shm.name());
    if (std::memcmp(other.buf().data(), "consumer", 8) != 0) {
        std::cerr << "consumer: attached segment does not hold what was written\n";
        return 1;
    }
    std::cout << "consumer: ok (mpshm " << mp::version_major << '.' << mp::version_minor << '.'
              << mp::version_patch << ")\n";
    return 0;
}
