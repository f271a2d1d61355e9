// Must not compile: a pointer means nothing in another process.
#include <mpshm/mpshm.hpp>

int main() {
    int x = 0;
    mpshm::Value<int*> v(&x);
    return 0;
}
