// Seed document 2: four Processes increment one Value and print it.
// Python prints four lines in whatever order the processes run, and, since
// `shared_var.value += 1` is not atomic, may print the same number twice.
// Here each worker increments and prints under the Value's lock, so the
// lines always read 1, 2, 3, 4, in that order.
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <vector>

namespace mp = mpshm;

void worker(mp::Value<int>& shared_var) {
    auto value = shared_var.lock();  // held until the line is printed
    *value += 1;
    std::cout << "The value of shared_var is " << *value << std::endl;
}

int main() {
    mp::freeze_support();
    mp::Value<int> shared_var(0);
    std::vector<mp::Process> processes;
    for (int n = 0; n < 4; ++n) processes.emplace_back(worker, shared_var);
    for (auto& p : processes) p.start();
    for (auto& p : processes) p.join();
}
