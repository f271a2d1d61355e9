// A program with mpshm objects at namespace scope that spawns: each spawned
// child (a fresh run of the program) makes its own, as Python re-creates a
// module's objects in a spawned child, and the ones passed to the Process
// are the parent's, attached by name. Those constructors once ran the
// target before the program was initialised ("its target is not in this
// program" with g++, SIGSEGV with clang).
#include <iostream>
#include <mutex>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

mp::Lock print_lock;
mp::Value<int> counter(0);
mp::Array<int, 2> scratch;

void worker(mp::Value<int>& shared, mp::Lock& lock) {
    const std::lock_guard hold(lock);
    shared += 1;   // the parent's counter, passed by name
    counter += 100;  // this child's own
    scratch[0] = counter.load();
}

int main() {
#if !defined(MPSHM_TEST_NO_FREEZE_SUPPORT)
    mp::freeze_support();
#endif
    mp::set_start_method(mp::StartMethod::spawn);
    for (int i = 0; i < 2; ++i) {
        mp::Process p(worker, counter, print_lock);
        p.start();
        p.join();
        std::cout << "exitcode " << *p.exitcode() << '\n';
    }
    std::cout << "counter " << counter << ", scratch " << scratch << '\n';
}
