// Must not compile: a std::vector cannot reach a spawned child.
#include <mpshm/mpshm.hpp>
#include <vector>

void worker(std::vector<int>) {}

int main() {
    mpshm::Process p(worker, std::vector<int>{1, 2});
    return 0;
}
