// A program that uses the spawn start method but never calls
// mpshm::freeze_support(): its spawned child must still run the target (at
// the first mpshm call main() makes) and not the rest of main().
#include <iostream>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

void worker(mp::Value<int>& v, mp::Array<int, 3>& a) {
    v += 41;
    for (std::ptrdiff_t i = 0; i < 3; ++i) a[i] += static_cast<int>(i) + 1;
}

int main() {
    mp::set_start_method(mp::StartMethod::spawn);
    mp::Value<int> v(1);
    mp::Array<int, 3> a;
    mp::Process p(worker, v, a);
    p.start();
    p.join();
    std::cout << "exitcode " << *p.exitcode() << ", value " << v << ", array " << a << '\n';
}
