// Fuzzes Manager::attach and List/Dict attach by name: the segment header
// and the Manager's state (where its heap is, how large, whether a rebuild
// failed, ...). Boost.Interprocess's heap holds offset pointers that no
// attach can check without walking them, so the heap itself is only ever
// damaged in mode 3, where nothing but Manager::attach runs.
//   mode 1, 2: ops reach the header and the state only (not the heap);
//              then the containers are attached and read
//   mode 3:    ops reach anywhere, heap included, and the checksum is
//              recomputed; only Manager::attach and capacity() run
// Parameters (image modes, see fuzz_support.hpp), for a Manager of 4096
// bytes holding c1 List<int>, c2 Dict<std::string, double>, c3
// List<std::string>:
//   u8 elements of c1 (mod 12), then a u8 each
//   u8 pairs of c2 (mod 6), then each: u8 key length (mod 12), the key, a u8 value
//   u8 elements of c3 (mod 6), then each: u8 length (mod 16), the string
// Anchors from extra_anchors (32) on: heap_offset, heap_size, next_object,
// generation, damaged (ManagerState), the heap.
// SPDX-License-Identifier: MIT
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <mpshm/managers.hpp>

#include "fuzz_support.hpp"

namespace {

namespace mp = mpshm;
using mpshm_fuzz::Bytes;
using State = mp::detail::ManagerState;
constexpr std::uint8_t heap_mode = 3;

Bytes image(mpshm_fuzz::Reader& in) {
    mp::Manager m(mp::ManagerOptions{.capacity = 4096});
    auto ints = m.list<int>();
    for (unsigned n = in.u8() % 12U; n != 0; --n) {
        const int x = in.u8();
        mpshm_fuzz::documented([&] { ints.append(x); });  // MemoryError when full
    }
    auto dict = m.dict<std::string, double>();
    for (unsigned n = in.u8() % 6U; n != 0; --n) {
        const std::string key = in.text(in.u8() % 12U);
        const double value = in.u8();
        mpshm_fuzz::documented([&] { dict[key] = value; });
    }
    auto strings = m.list<std::string>();
    for (unsigned n = in.u8() % 6U; n != 0; --n) {
        const std::string s = in.text(in.u8() % 16U);
        mpshm_fuzz::documented([&] { strings.append(s); });
    }
    return mpshm_fuzz::image_of(m.name());
}

void exercise(const std::string& name) {
    std::ostringstream out;
    auto m = mp::Manager::attach(name);
    out << m.capacity() << m.free_memory();
    mpshm_fuzz::documented([&] {
        auto ints = mp::List<int>::attach(name + "/c1");
        out << ints << ints.size();
        ints.append(1);
        out << ints.pop() << ints.count(0);
    });
    mpshm_fuzz::documented([&] {
        auto dict = mp::Dict<std::string, double>::attach(name + "/c2");
        out << dict << dict.get("a", 0.0) << dict.size();
        dict["a"] = 1.0;
    });
    mpshm_fuzz::documented([&] {
        const auto strings = mp::List<std::string>::attach(name + "/c3");
        for (const auto& s : strings.to_vector()) out << s;
    });
    mpshm_fuzz::documented([&] { (void)mp::List<double>::attach(name + "/c1"); });  // wrong type
    mpshm_fuzz::documented([&] { (void)mp::List<int>::attach(name + "/c9"); });     // absent
    mpshm_fuzz::documented([&] { (void)mp::List<int>::attach(name); });  // not manager/object
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mpshm_fuzz::Reader in(data, size);
    const std::uint8_t mode = in.u8() % 4;
    Bytes made;
    if (mode != mpshm_fuzz::raw) made = image(in);
    const std::size_t heap = mpshm_fuzz::data_offset_of(made) + mp::detail::manager_state_bytes;
    const std::vector<std::size_t> state = {
        offsetof(State, heap_offset), offsetof(State, heap_size), offsetof(State, next_object),
        offsetof(State, generation),  offsetof(State, damaged),   mp::detail::manager_state_bytes};
    if (mode == heap_mode) {
        auto seg = mpshm_fuzz::typed_segment(in, mpshm_fuzz::checksum, made, state);
        mpshm_fuzz::documented([&] { (void)mp::Manager::attach(seg.name()).capacity(); });
        return 0;
    }
    // Raw bytes never pass the checksum: no container is looked up in them.
    auto seg = mpshm_fuzz::typed_segment(in, mode, made, state, heap);
    mpshm_fuzz::documented([&] { exercise(seg.name()); });
    return 0;
}
