// The spawn start method: the child is a fresh run of this program. It never
// saw `secret` set, and it reaches the Value and the Array by their names,
// attaching to each before the target runs.
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

int secret = 0;  // set by the parent; a spawned child starts from scratch

void worker(mp::Value<int>& seen, mp::Array<double, 3>& data, std::string greeting) {
    seen.store(secret);  // 0 here: this is not a fork
    for (std::ptrdiff_t i = 0; i < 3; ++i) data[i] *= 2;
    std::cout << "child " << mp::current_process().name() << " got: " << greeting << std::endl;
}

int main() {
    mp::freeze_support();  // the one line spawn needs: a spawned child runs its target here
    mp::set_start_method(mp::StartMethod::spawn);
    secret = 42;

    mp::Value<int> seen(-1);
    mp::Array<double, 3> data{0.5, 1.5, 2.5};
    mp::Process p(worker, seen, data, std::string("strings travel by value"));
    p.start();
    p.join();

    std::cout << "exit code " << *p.exitcode() << ", child saw secret = " << seen << '\n';
    std::cout << "data = " << data << '\n';
}
