// Fuzzes ShareableList's attach (CPython's layout, no mpshm header) and
// every read and write of its items. Modes 1 and 2 are the same here: there
// is no checksum. Parameters (image modes, see fuzz_support.hpp):
//   u8   items (mod 9), then each: u8 type (mod 6) and its value:
//        0 int (u64), 1 float (u64 bits), 2 bool (u8), 3 None,
//        4 str (u8 length mod 24, then a u8 per character: printable ASCII,
//          or 'é' from 240 up), 5 bytes (u8 length mod 24, then the bytes)
// Anchors: 0 the length, 1 the offsets, 2 the data, 3 the formats, 4 the
// back-transform codes, 5 the end, 6-13 item k's data, 14-21 item k's
// format, 22-29 item k's code (the end, for items the list lacks).
// SPDX-License-Identifier: MIT
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <mpshm/shareable_list.hpp>

#include "fuzz_support.hpp"

namespace {

namespace mp = mpshm;
using mpshm_fuzz::Bytes;

std::vector<mp::ListItem> items(mpshm_fuzz::Reader& in) {
    std::vector<mp::ListItem> out;
    for (unsigned n = in.u8() % 9U; n != 0; --n) {
        switch (in.u8() % 6) {
            case 0:
                out.emplace_back(static_cast<std::int64_t>(in.u64()));
                break;
            case 1: {
                const std::uint64_t bits = in.u64();
                double d = 0;
                std::memcpy(&d, &bits, sizeof d);
                out.emplace_back(d);
                break;
            }
            case 2:
                out.emplace_back(in.u8() % 2 != 0);
                break;
            case 3:
                out.emplace_back(mp::None{});
                break;
            case 4: {
                std::string s;
                for (unsigned k = in.u8() % 24U; k != 0; --k) {
                    const std::uint8_t c = in.u8();
                    s += c >= 240 ? std::string("\xc3\xa9") : std::string(1, char(' ' + c % 95));
                }
                out.emplace_back(std::move(s));
                break;
            }
            default:
                out.emplace_back(mp::Bytes{in.text(in.u8() % 24U)});
                break;
        }
    }
    return out;
}

std::uint64_t word(const Bytes& image, std::size_t at) {
    std::uint64_t v = 0;
    if (at + 8 <= image.size()) std::memcpy(&v, image.data() + at, 8);
    return v;
}

// The anchors of a list's image (CPython's layout, see shareable_list.hpp).
std::vector<std::size_t> anchors(const Bytes& image, std::size_t size) {
    const std::size_t n = word(image, 0);
    const std::size_t data = (n + 2) * 8;
    const std::size_t formats = data + word(image, 8 * (n + 1));
    const std::size_t codes = formats + 8 * n;
    std::vector<std::size_t> out = {0, 8, data, formats, codes, size};
    for (std::size_t k = 0; k < 8; ++k)
        out.push_back(k < n ? data + word(image, 8 * (k + 1)) : size);
    for (std::size_t k = 0; k < 8; ++k) out.push_back(k < n ? formats + 8 * k : size);
    for (std::size_t k = 0; k < 8; ++k) out.push_back(k < n ? codes + k : size);
    return out;
}

void exercise(const std::string& name) {
    mp::ShareableList sl(name);
    const auto n = static_cast<std::ptrdiff_t>(sl.size());
    std::ostringstream out;
    for (std::ptrdiff_t i = -n; i < n; ++i) {
        mpshm_fuzz::documented([&] { out << mp::detail::python_repr(std::as_const(sl)[i]); });
    }
    mpshm_fuzz::documented([&] { (void)std::as_const(sl)[n]; });  // std::out_of_range
    mpshm_fuzz::documented([&] { out << sl.format(); });
    mpshm_fuzz::documented([&] { out << sl; });
    mpshm_fuzz::documented([&] { out << sl.count(mp::None{}) << sl.count(std::int64_t{0}); });
    mpshm_fuzz::documented([&] { out << sl.index(std::string("a")); });
    const mp::ListItem values[] = {
        std::int64_t{7},     2.5, true, mp::None{}, std::string("ab"), mp::Bytes{"xyz"},
        std::string(40, 'x')};
    for (std::ptrdiff_t i = 0; i < n && i < 8; ++i) {
        for (const auto& v : values) {
            mpshm_fuzz::documented([&] { sl.set(i, v); });
            mpshm_fuzz::documented([&] { (void)std::as_const(sl)[i]; });
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mpshm_fuzz::Reader in(data, size);
    const std::uint8_t mode = in.u8() % 3;
    if (mode == mpshm_fuzz::raw) {
        const mpshm_fuzz::Segment seg(in.rest());
        mpshm_fuzz::documented([&] { exercise(seg.name()); });
        return 0;
    }
    Bytes made;
    // A str of many 'é' may not fit the slot Python's layout gives it:
    // std::invalid_argument, and the image is an empty list's.
    const auto list = items(in);
    if (!mpshm_fuzz::documented([&] {
            const mp::ShareableList sl(list);
            made = mpshm_fuzz::image_of(sl.name());
        })) {
        const mp::ShareableList sl(std::vector<mp::ListItem>{});
        made = mpshm_fuzz::image_of(sl.name());
    }
    mpshm_fuzz::Segment seg(mpshm_fuzz::read_size(in, made));
    const auto places = anchors(made, seg.buf().size());
    mpshm_fuzz::apply_ops(in, seg.buf(), made, places, places[2]);
    mpshm_fuzz::documented([&] { exercise(seg.name()); });
    return 0;
}
