// Must not compile: like ctypes' c_int, an integer Value takes no float
// operand (Python raises TypeError).
#include <mpshm/mpshm.hpp>

int main() {
    mpshm::Value<int> v(1);
    v += 0.5;
    return 0;
}
