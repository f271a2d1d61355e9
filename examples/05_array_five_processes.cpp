// Seed Example 5: five Processes increment every element of one Array.
// Python may print numbers below 5: `shared_array[i] += 1` on its
// SynchronizedArray is a locked read followed by a locked write, and two
// processes can interleave. Here each `+=` is one atomic step, so the result
// is always ten 5s.
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <vector>

namespace mp = mpshm;

void worker(mp::Array<int, 10>& shared_array) {
    // Accessing the shared array from the worker process
    for (std::size_t i = 0; i < shared_array.size(); ++i) {
        shared_array[static_cast<std::ptrdiff_t>(i)] += 1;
    }
}

int main() {
    mp::freeze_support();
    // Create a shared memory object of type 'i' (integer) with size 10
    mp::Array<int, 10> shm;

    // Start multiple processes that will modify the shared array
    std::vector<mp::Process> processes;
    for (int n = 0; n < 5; ++n) {
        mp::Process& p = processes.emplace_back(worker, shm);
        p.start();
    }

    // Wait for all processes to complete
    for (auto& p : processes) p.join();

    // Print the final modified shared array
    std::cout << "Final shared array: " << shm << '\n';
}
