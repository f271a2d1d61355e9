// Seed Example 1: a shared Array modified by one Process.
// Python: multiprocessing.Array('i', 10) passed to Process(target=worker).
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void worker(mp::Array<int, 10>& shared_array) {
    // Accessing the shared array from the worker process
    for (std::size_t i = 0; i < shared_array.size(); ++i) {
        shared_array[static_cast<std::ptrdiff_t>(i)] += 1;
    }
}

int main() {
    mp::freeze_support();  // Python: if __name__ == "__main__":
    // Create a shared memory object of type 'i' (integer) with size 10
    mp::Array<int, 10> shm;

    // Start a new process that will modify the shared array
    mp::Process p(worker, shm);
    p.start();
    p.join();

    // Print the modified shared array
    std::cout << "Modified shared array: " << shm << '\n';
}
