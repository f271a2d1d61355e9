// Must not compile: std::string owns heap memory another process cannot see.
#include <mpshm/mpshm.hpp>
#include <string>

int main() {
    mpshm::Array<std::string, 2> a;
    return 0;
}
