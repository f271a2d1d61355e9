// A process killed while holding a lock: Python's multiprocessing.Lock stays
// locked for ever and every other process hangs. mpshm's locks are robust:
// the next acquire() gets the lock and reports that its owner died.
#include <chrono>
#include <iostream>
#include <thread>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void hold_and_hang(mp::Lock& lock, mp::Event& holding) {
    lock.acquire();
    holding.set();
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // never releases
}

int main() {
    mp::freeze_support();
    mp::Lock lock;
    mp::Event holding;
    mp::Process owner(hold_and_hang, lock, holding);
    owner.start();
    holding.wait();
    owner.kill();  // SIGKILL (TerminateProcess on Windows) while it holds the lock
    owner.join();
    // Python's exit codes: -9 (SIGKILL) on POSIX, -15 on Windows, as Python.
    std::cout << "owner killed: " << std::boolalpha << (*owner.exitcode() < 0) << '\n';

    const bool acquired = lock.acquire(std::chrono::seconds(5));
    std::cout << "acquired: " << std::boolalpha << acquired
              << ", previous owner died: " << lock.previous_owner_died() << '\n';
    lock.release();
    std::cout << "recoveries: " << lock.recoveries() << '\n';
}
