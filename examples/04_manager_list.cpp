// Seed Example 4: a Manager list modified by one Process.
// Python: mp.Manager().list([1, 2, 3, 4, 5]) - here without a server process.
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void worker(mp::List<int>& shared_list) {
    // Accessing the shared list from the worker process
    std::cout << "Initial shared list: " << shared_list << std::endl;
    for (std::size_t i = 0; i < shared_list.size(); ++i) {
        shared_list[static_cast<std::ptrdiff_t>(i)] += 1;
    }
}

int main() {
    mp::freeze_support();
    // Create a manager object to manage shared state
    mp::Manager manager;
    // Create a shared list with the manager
    auto shm = manager.list<int>({1, 2, 3, 4, 5});

    // Start a new process that will modify the shared list
    mp::Process p(worker, shm);
    p.start();
    p.join();

    // Print the modified shared list
    std::cout << "Modified shared list: " << shm << '\n';
}
