// Fuzzes Value<T>::attach and RawValue<T>::attach, and what a Value exposes.
// Parameters (image modes, see fuzz_support.hpp):
//   u8   the kind made (mod 5): 0 Value<int>, 1 Value<double, Lock>,
//        2 RawValue<int64_t>, 3 Value<uint8_t, Lock>, 4 Value<int> with a
//        shared RLock (Python's lock=)
//   u8   the kind attached: below 192 the same, else the byte mod 5
//   u64  the initial value's bits
// SPDX-License-Identifier: MIT
#include <cstdint>
#include <cstring>
#include <optional>
#include <sstream>
#include <type_traits>

#include <mpshm/value.hpp>

#include "fuzz_support.hpp"

namespace {

namespace mp = mpshm;
using mpshm_fuzz::Bytes;

template <typename V>
void exercise(const std::string& name) {
    using T = typename V::value_type;
    auto v = V::attach(name);
    std::ostringstream out;
    out << v << v.load();
    T x = v.get_obj();
    v.store(x);
    if constexpr (mp::detail::has_lock<typename V::lock_type>) {
        auto guard = v.lock();
        *guard = x;
    }
    if constexpr (mp::detail::LockFreeInteger<T>) {
        v += 1;
        (void)v.fetch_add(1);
        (void)v.exchange(x);
    } else {
        v += 1;
    }
}

template <typename V>
Bytes image(std::uint64_t bits) {
    using T = typename V::value_type;
    T init{};
    std::memcpy(&init, &bits, sizeof(T));
    const V v(init);
    return mpshm_fuzz::image_of(v.name());
}

template <typename F>
void with_kind(unsigned kind, F&& f) {
    switch (kind % 5) {
        case 0:
            return f(std::type_identity<mp::Value<int>>{});
        case 1:
            return f(std::type_identity<mp::Value<double, mp::Lock>>{});
        case 2:
            return f(std::type_identity<mp::RawValue<std::int64_t>>{});
        case 3:
            return f(std::type_identity<mp::Value<std::uint8_t, mp::Lock>>{});
        default:
            return f(std::type_identity<mp::Value<int>>{});  // with a shared RLock
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mpshm_fuzz::Reader in(data, size);
    const std::uint8_t mode = in.u8() % 3;
    unsigned attach_kind = 0;
    std::optional<mp::RLock> shared;  // outlives the attach, as its name is in the image
    Bytes made;
    if (mode != mpshm_fuzz::raw) {
        const unsigned kind = in.u8() % 5U;
        const std::uint8_t pick = in.u8();
        attach_kind = pick < 192 ? kind : pick % 5U;
        const std::uint64_t bits = in.u64();
        if (kind == 4) {
            shared.emplace();
            const mp::Value<int> v(static_cast<int>(bits), *shared);
            made = mpshm_fuzz::image_of(v.name());
        } else {
            with_kind(kind, [&]<typename V>(std::type_identity<V>) { made = image<V>(bits); });
        }
    }
    auto seg = mpshm_fuzz::typed_segment(in, mode, made);
    const std::string& name = seg.name();
    // In raw mode, every kind: random bytes are refused alike.
    for (unsigned kind = attach_kind; kind < (mode == mpshm_fuzz::raw ? 4U : attach_kind + 1);
         ++kind) {
        with_kind(kind, [&]<typename V>(std::type_identity<V>) {
            mpshm_fuzz::documented([&] { exercise<V>(name); });
        });
    }
    return 0;
}
