// Fuzzes Array<T>::attach, Array<T, N>::attach and RawArray, and what an
// Array exposes. Parameters (image modes, see fuzz_support.hpp):
//   u8   the kind made (mod 5): 0 Array<int>, 1 Array<double, 3, Lock>,
//        2 RawArray<uint8_t>, 3 Array<int64_t, dynamic, Lock>, 4 Array<int>
//        with a shared RLock (Python's lock=)
//   u8   the kind attached: below 192 the same, else the byte mod 5
//   u8   the length (mod 33; Array<double, 3> is always 3)
//   then one u8 per element, its initial value
// SPDX-License-Identifier: MIT
#include <cstdint>
#include <optional>
#include <sstream>
#include <type_traits>
#include <vector>

#include <mpshm/array.hpp>

#include "fuzz_support.hpp"

namespace {

namespace mp = mpshm;
using mpshm_fuzz::Bytes;

template <typename A>
void exercise(const std::string& name) {
    using T = typename A::value_type;
    auto a = A::attach(name);
    std::ostringstream out;
    out << a;
    const std::vector<T> all = a.to_vector();
    (void)a.slice(-3, 1000);
    std::vector<T> copy(a.size());
    a.copy_to(copy);
    for (const auto& element : a) out << element;
    for (const T x : a.get_obj()) out << +x;
    if (a.empty()) {
        (void)a.at(0);  // std::out_of_range
        return;
    }
    a[-1] += T{1};
    a[0] = all[0];
    if constexpr (mp::detail::has_lock<typename A::lock_type>) {
        auto guard = a.lock();
        guard[guard.size() - 1] = all.back();
    }
    if constexpr (mp::detail::LockFreeInteger<T>) (void)a.fetch_add(0, T{1});
    a.fill(all[0]);
    a.assign(all);
}

template <typename A>
struct extent_of;
template <typename T, std::size_t N, typename L>
struct extent_of<mp::Array<T, N, L>> {
    static constexpr std::size_t value = N;
};

template <typename A>
Bytes image(const std::vector<std::uint8_t>& init) {
    using T = typename A::value_type;
    std::vector<T> values(init.begin(), init.end());
    if constexpr (extent_of<A>::value != mp::dynamic_extent) values.resize(extent_of<A>::value);
    const A a{std::span<const T>(values)};
    return mpshm_fuzz::image_of(a.name());
}

template <typename F>
void with_kind(unsigned kind, F&& f) {
    switch (kind % 5) {
        case 0:
            return f(std::type_identity<mp::Array<int>>{});
        case 1:
            return f(std::type_identity<mp::Array<double, 3, mp::Lock>>{});
        case 2:
            return f(std::type_identity<mp::RawArray<std::uint8_t>>{});
        case 3:
            return f(std::type_identity<mp::Array<std::int64_t, mp::dynamic_extent, mp::Lock>>{});
        default:
            return f(std::type_identity<mp::Array<int>>{});  // with a shared RLock
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
        std::vector<std::uint8_t> init(in.u8() % 33U);
        for (auto& x : init) x = in.u8();
        if (kind == 4) {
            shared.emplace();
            const std::vector<int> values(init.begin(), init.end());
            const mp::Array<int> a(values.size(), *shared);
            for (std::size_t i = 0; i < values.size(); ++i)
                a[static_cast<std::ptrdiff_t>(i)] = values[i];
            made = mpshm_fuzz::image_of(a.name());
        } else {
            with_kind(kind, [&]<typename A>(std::type_identity<A>) { made = image<A>(init); });
        }
    }
    auto seg = mpshm_fuzz::typed_segment(in, mode, made);
    const std::string& name = seg.name();
    for (unsigned kind = attach_kind; kind < (mode == mpshm_fuzz::raw ? 4U : attach_kind + 1);
         ++kind) {
        with_kind(kind, [&]<typename A>(std::type_identity<A>) {
            mpshm_fuzz::documented([&] { exercise<A>(name); });
        });
    }
    return 0;
}
