// Must not compile: a spawned child cannot rebuild what a lambda captured.
#include <mpshm/mpshm.hpp>

int main() {
    int captured = 1;
    mpshm::Process p([captured] { (void)captured; });
    return 0;
}
