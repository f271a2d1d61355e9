// SharedMemory as in Python's multiprocessing.shared_memory documentation:
// create a segment, reach it again by name, and see the same bytes.
//
//   >>> from multiprocessing import shared_memory
//   >>> shm_a = shared_memory.SharedMemory(create=True, size=10)
//   >>> buffer = shm_a.buf
//   >>> buffer[:4] = bytearray([22, 33, 44, 55])
//   >>> buffer[4] = 100
//   >>> shm_b = shared_memory.SharedMemory(shm_a.name)
//   >>> import array
//   >>> array.array('b', shm_b.buf[:5])
//   array('b', [22, 33, 44, 55, 100])
//   >>> shm_b.buf[:5] = b'howdy'
//   >>> bytes(shm_a.buf[:5])
//   b'howdy'
//   >>> shm_b.close(); shm_a.close(); shm_a.unlink()
#include <array>
#include <cstring>
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <string_view>

namespace mp = mpshm;

int main() {
    mp::SharedMemory shm_a({.create = true, .size = 10});
    auto buffer = shm_a.buf();
    const std::array<signed char, 5> values{22, 33, 44, 55, 100};
    std::memcpy(buffer.data(), values.data(), values.size());

    mp::SharedMemory shm_b(shm_a.name());  // attach by name, as another process would
    std::cout << "array('b', [";
    for (std::size_t i = 0; i < 5; ++i) {
        std::cout << (i ? ", " : "") << static_cast<int>(static_cast<signed char>(shm_b.buf()[i]));
    }
    std::cout << "])\n";

    std::memcpy(shm_b.buf().data(), "howdy", 5);
    std::cout << "b'" << std::string_view(reinterpret_cast<const char*>(shm_a.buf().data()), 5)
              << "'\n";

    shm_b.close();
    shm_a.close();
    shm_a.unlink();  // optional here: shm_a, the creator, would unlink when destroyed
}
