// Seed Example 6: five Processes increment every element of a Manager list.
// Python may print less than [6, 7, 8, 9, 10]: `shared_list[i] += 1` on a
// ListProxy is a get and a set, two round trips another process can come
// between. Here it is one atomic step, so the result is always the same.
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <vector>

namespace mp = mpshm;

void worker(mp::List<int>& shared_list) {
    // Accessing the shared list from the worker process
    for (std::size_t i = 0; i < shared_list.size(); ++i) {
        shared_list[static_cast<std::ptrdiff_t>(i)] += 1;
    }
}

int main() {
    mp::freeze_support();
    // Create a manager object to manage shared data
    mp::Manager manager;
    // Create a shared list with initial data and size 5
    auto shm = manager.list<int>({1, 2, 3, 4, 5});

    // Start multiple processes that will modify the shared list
    std::vector<mp::Process> processes;
    for (int n = 0; n < 5; ++n) {
        mp::Process& p = processes.emplace_back(worker, shm);
        p.start();
    }

    // Wait for all processes to complete
    for (auto& p : processes) p.join();

    // Print the final modified shared list
    std::cout << "Final shared list: " << shm << '\n';
}
