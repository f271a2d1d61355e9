// Seed Example 3: a shared float Value. Python's 'f' is a C float, and it
// prints the float widened to double: 5.0 + 0.1 shows as 5.099999904632568.
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void worker(mp::Value<float>& shared_float) {
    // Accessing the shared float from the worker process
    std::cout << "Initial shared float: " << shared_float << std::endl;
    shared_float += 0.1;  // computed in double, stored as float, as Python does
}

int main() {
    mp::freeze_support();
    // Create a shared memory object of type 'f' (float) with size 1
    mp::Value<float> shm(5.0F);

    // Start a new process that will modify the shared float
    mp::Process p(worker, shm);
    p.start();
    p.join();

    // Print the modified shared float
    std::cout << "Modified shared float: " << shm << '\n';
}
