// Seed Example 2: a shared integer Value read and incremented by a Process.
// Python: multiprocessing.Value('i', 5).
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void worker(mp::Value<int>& shared_int) {
    // Accessing the shared integer from the worker process
    std::cout << "Initial shared integer: " << shared_int << std::endl;
    shared_int += 1;  // one atomic step (Python's `shared_int.value += 1` is two)
}

int main() {
    mp::freeze_support();
    // Create a shared memory object of type 'i' (int) with size 1
    mp::Value<int> shm(5);

    // Start a new process that will modify the shared integer
    mp::Process p(worker, shm);
    p.start();
    p.join();

    // Print the modified shared integer
    std::cout << "Modified shared integer: " << shm << '\n';
}
