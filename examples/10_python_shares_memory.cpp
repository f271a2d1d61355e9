// A C++ process and a Python process sharing one ShareableList: C++ makes
// it, python3 attaches by name (the same bytes as CPython's own), changes an
// item, and C++ sees the change.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <string>

namespace mp = mpshm;

int main() {
    mp::ShareableList sl({std::int64_t{1}, 2.5, std::string("from C++"), mp::None{}, true});
    std::cout << "C++ made:    " << sl.size() << " items, format " << sl.format() << '\n';

    // CPython 3.11 would unlink the segment when the script ends, although it
    // only attached: unregister it from the resource tracker.
    const std::string script =
        "from multiprocessing import shared_memory, resource_tracker\n"
        "sl = shared_memory.ShareableList(name='" +
        sl.name() +
        "')\n"
        "print('Python sees:', list(sl))\n"
        "sl[2] = 'from Py'\n"
        "sl[0] = sl[0] + 41\n"
        "resource_tracker.unregister(sl.shm._name, 'shared_memory')\n";
    std::cout.flush();
    const std::string command = "python3 -c \"" + script + "\"";
    if (std::system(command.c_str()) != 0) {
        std::cout << "(python3 is not available here)\n";
        return 0;
    }
    const mp::ShareableList& view = sl;
    std::cout << "C++ now sees: " << std::get<std::int64_t>(view[0]) << " and '"
              << std::get<std::string>(view[2]) << "'\n";
}
