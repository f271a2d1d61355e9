// A Windows program that never calls mpshm::freeze_support(): its spawned
// child must still run the target (at the first mpshm call main() makes,
// here the SharedMemory) and none of the rest of main(). Exits 0 only when
// that held.
// SPDX-License-Identifier: MIT
#include <cstring>
#include <iostream>
#include <string>

#include <mpshm/process.hpp>
#include <mpshm/shared_memory.hpp>

namespace mp = mpshm;

namespace {

void worker(mp::SharedMemory& shm, std::string text) {
    std::memcpy(shm.buf().data(), text.c_str(), text.size() + 1);
}

}  // namespace

int main() {
    // A spawned child runs its target here and exits: it never makes a
    // segment of its own, nor starts children of its own (which would start
    // theirs, without end), and the parent's segment gets its text.
    mp::SharedMemory shm({.create = true, .size = 64});
    mp::Process p(worker, shm, std::string("from the target"));
    p.start();
    p.join();
    const std::string got = reinterpret_cast<const char*>(shm.buf().data());
    const bool ok = p.exitcode() == 0 && got == "from the target";
    std::cout << "exitcode " << p.exitcode().value_or(-1) << ", child wrote \"" << got << "\"\n"
              << (ok ? "all checks passed\n" : "some checks FAILED\n");
    return ok ? 0 : 1;
}
