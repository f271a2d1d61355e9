// mpshm's fuzz harnesses: what they share. Each harness (fuzz_<name>.cpp)
// makes a raw segment whose size and bytes come from the input, attaches to
// it through one public attach path, and exercises what the attach exposes.
// Only the documented errors may come out; anything else escapes, and
// libFuzzer reports it, as it reports crashes, hangs and sanitizer findings.
// fuzz_guard.cpp puts every mapped segment between guard pages, so a read
// past a segment's end is reported too (AddressSanitizer cannot see mmap).
//
// Random bytes almost never pass a typed header's magic and checksum, so an
// input is structured:
//
//   byte 0     the mode (modulo the harness's number of modes):
//              0 raw:      the rest of the input is the segment, byte for byte
//              1 overlay:  a valid image (a real object made from the harness
//                          parameters, its segment copied), damaged by the ops
//              2 checksum: as 1, then the header checksum is recomputed, so
//                          the checks behind it are reached
//              3 and up:   harness-specific (see the harness)
//   then, in the image modes:
//     the harness parameters (what object to make; each harness reads its own)
//     i16        size delta: the segment is the image's size plus this (at
//                least 1 byte); bytes past the image are zero
//     ops, until the input ends, each:
//       u8       anchor, modulo the harness's anchors: a named place in the
//                image (a header field, the data, the end, ...)
//       i16      delta from the anchor; an op outside the segment is skipped
//       u8       op: 0 write literal bytes (u8 length % 17, then the bytes)
//                    1 store an interesting u64 (u8 picks it; see interesting())
//                    2 add an i8 to the u64 there
//                    3 store an interesting u32
//                    4 xor the byte there with a u8
// Integers are little-endian; a short input reads as zeros. Anchors name
// fields, not offsets, so the seed corpus survives a change of the header's
// layout (tests/fuzz/make_corpus.py writes it).
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <mpshm/detail/segment_header.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace mpshm_fuzz {

using Bytes = std::vector<std::byte>;

// Segments larger than this are not worth an execution's time.
inline constexpr std::size_t max_segment = std::size_t{1} << 20U;

enum Mode : std::uint8_t { raw = 0, overlay = 1, checksum = 2 };

// Reads the input front to back; past its end every read is zero.
class Reader {
  public:
    Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] std::size_t remaining() const noexcept { return size_; }

    std::uint8_t u8() {
        if (size_ == 0) return 0;
        --size_;
        return *data_++;
    }
    std::uint16_t u16() {
        const std::uint16_t lo = u8();
        return static_cast<std::uint16_t>(lo | static_cast<std::uint16_t>(u8() << 8U));
    }
    std::int16_t i16() { return static_cast<std::int16_t>(u16()); }
    std::int8_t i8() { return static_cast<std::int8_t>(u8()); }
    std::uint32_t u32() {
        const std::uint32_t lo = u16();
        return lo | (static_cast<std::uint32_t>(u16()) << 16U);
    }
    std::uint64_t u64() {
        const std::uint64_t lo = u32();
        return lo | (static_cast<std::uint64_t>(u32()) << 32U);
    }
    // Up to N bytes, fewer if the input ends first.
    std::string text(std::size_t n) {
        n = std::min(n, size_);
        std::string s(reinterpret_cast<const char*>(data_), n);
        data_ += n;
        size_ -= n;
        return s;
    }
    Bytes rest() {
        Bytes out(reinterpret_cast<const std::byte*>(data_),
                  reinterpret_cast<const std::byte*>(data_) + size_);
        data_ += size_;
        size_ = 0;
        return out;
    }

  private:
    const std::uint8_t* data_;
    std::size_t size_;
};

// Runs F; true if it returned, false if it threw one of the documented
// errors: mpshm's own (errors.hpp) and std::invalid_argument and
// std::out_of_range. Anything else propagates to libFuzzer.
template <typename F>
bool documented(F&& f) {
    try {
        f();
        return true;
    } catch (const mpshm::Error&) {
    } catch (const std::invalid_argument&) {
    } catch (const std::out_of_range&) {
    }
    return false;
}

// The bytes of segment NAME, as a peer would find them.
inline Bytes image_of(std::string_view name) {
    const mpshm::SharedMemory shm(name);
    const auto buf = shm.buf();
    return {buf.begin(), buf.end()};
}

// The places in a typed segment (one with a SegmentHeader) that ops start
// from. Seed inputs name anchors by their position here: only ever append,
// up to extra_anchors, where each harness's own anchors begin.
enum TypedAnchor : std::uint8_t {
    a_magic,
    a_version,
    a_header_size,
    a_kind,
    a_lock_kind,
    a_elem_size,
    a_elem_align,
    a_type_tag,
    a_count,
    a_data_offset,
    a_data_bytes,
    a_creator_pid,
    a_lock_segment,
    a_checksum,
    a_recoveries,
    a_repaired,
    a_lockfree_used,
    a_lock,
    a_data,  // where the image's data starts
    a_end,   // the end of the segment
    typed_anchor_count,
    extra_anchors = 32
};
static_assert(typed_anchor_count <= extra_anchors);

// Where each TypedAnchor is, for an image whose data starts at DATA in a
// segment of SIZE bytes.
inline std::vector<std::size_t> typed_anchors(std::size_t data, std::size_t size) {
    using H = mpshm::detail::SegmentHeader;
    return {offsetof(H, magic),
            offsetof(H, version),
            offsetof(H, header_size),
            offsetof(H, kind),
            offsetof(H, lock_kind),
            offsetof(H, elem_size),
            offsetof(H, elem_align),
            offsetof(H, type_tag),
            offsetof(H, count),
            offsetof(H, data_offset),
            offsetof(H, data_bytes),
            offsetof(H, creator_pid),
            offsetof(H, lock_segment),
            offsetof(H, checksum),
            offsetof(H, recoveries),
            offsetof(H, repaired),
            offsetof(H, lockfree_used),
            offsetof(H, lock),
            data,
            size};
}

// Where a typed image's data starts.
inline std::size_t data_offset_of(const Bytes& image) {
    if (image.size() < sizeof(mpshm::detail::SegmentHeader)) return 0;
    std::uint64_t offset = 0;
    std::memcpy(&offset, image.data() + offsetof(mpshm::detail::SegmentHeader, data_offset),
                sizeof offset);
    return static_cast<std::size_t>(std::min<std::uint64_t>(offset, image.size()));
}

// The values op 1 and op 3 store: the edges where checks go wrong.
inline std::uint64_t interesting(std::uint8_t pick, std::size_t size, std::size_t data) {
    const std::uint64_t values[] = {0,
                                    1,
                                    2,
                                    3,
                                    4,
                                    7,
                                    8,
                                    16,
                                    63,
                                    64,
                                    255,
                                    256,
                                    4095,
                                    4096,
                                    0x7fffffffULL,
                                    0x80000000ULL,
                                    0xffffffffULL,
                                    0x100000000ULL,
                                    0x7fffffffffffffffULL,
                                    0x8000000000000000ULL,
                                    0xffffffffffffffffULL,
                                    size,
                                    size - 1,
                                    size + 1,
                                    size - data,
                                    size - data + 1,
                                    data,
                                    sizeof(mpshm::detail::SegmentHeader),
                                    0xfffffffffffffff8ULL,
                                    0xfffffffffffffffcULL};
    return values[pick % std::size(values)];
}

// The segment's size: the image's size plus the input's delta.
inline std::size_t read_size(Reader& in, const Bytes& image) {
    const auto want = static_cast<std::int64_t>(image.size()) + in.i16();
    return static_cast<std::size_t>(
        std::clamp<std::int64_t>(want, 1, static_cast<std::int64_t>(max_segment)));
}

// Copies IMAGE into SEG (cut or zero-padded to its size) and applies the
// input's ops, each from one of ANCHORS (see the top of this file). DATA is
// where the image's data starts, for interesting(). No op writes at or past
// WRITABLE_END.
inline void apply_ops(Reader& in, std::span<std::byte> seg, const Bytes& image,
                      const std::vector<std::size_t>& anchors, std::size_t data,
                      std::size_t writable_end = std::numeric_limits<std::size_t>::max()) {
    const std::size_t size = seg.size();
    std::memset(seg.data(), 0, size);
    std::memcpy(seg.data(), image.data(), std::min(size, image.size()));
    const std::size_t limit = std::min(size, writable_end);
    auto fits = [&](std::size_t at, std::size_t n) { return at <= limit && n <= limit - at; };
    while (!in.empty()) {
        const std::size_t base = anchors[in.u8() % anchors.size()];
        const auto at = static_cast<std::size_t>(static_cast<std::int64_t>(base) + in.i16());
        switch (in.u8() % 5) {
            case 0: {
                const std::string literal = in.text(in.u8() % 17U);
                if (fits(at, literal.size()))
                    std::memcpy(seg.data() + at, literal.data(), literal.size());
                break;
            }
            case 1: {
                const std::uint64_t v = interesting(in.u8(), size, data);
                if (fits(at, sizeof v)) std::memcpy(seg.data() + at, &v, sizeof v);
                break;
            }
            case 2: {
                const std::int8_t delta = in.i8();
                std::uint64_t v = 0;
                if (fits(at, sizeof v)) {
                    std::memcpy(&v, seg.data() + at, sizeof v);
                    v += static_cast<std::uint64_t>(static_cast<std::int64_t>(delta));
                    std::memcpy(seg.data() + at, &v, sizeof v);
                }
                break;
            }
            case 3: {
                const auto v = static_cast<std::uint32_t>(interesting(in.u8(), size, data));
                if (fits(at, sizeof v)) std::memcpy(seg.data() + at, &v, sizeof v);
                break;
            }
            default: {
                const std::uint8_t x = in.u8();
                if (fits(at, 1)) seg[at] ^= static_cast<std::byte>(x);
                break;
            }
        }
    }
}

// What every typed segment gets before it is attached to:
// - a magic number of 0 (a header never published) becomes 1 (a bad magic):
//   attach waits 200 ms for a creator to publish, by design, and the unit
//   tests cover that wait; the fuzzer must not spend its time in it;
// - the header's lock is made free, as a live owner's would eventually be:
//   a lock word naming a live thread, or one in another pid namespace, is a
//   lock held by someone else, and waiting for it is correct, not a hang;
// - with RECOMPUTE, the checksum is made to match whatever the ops did.
inline void prepare_typed(std::span<std::byte> seg, bool recompute) {
    using mpshm::detail::SegmentHeader;
    if (seg.size() < sizeof(SegmentHeader)) {
        if (seg.size() >= 8 && std::all_of(seg.begin(), seg.begin() + 8,
                                           [](std::byte b) { return b == std::byte{0}; })) {
            seg[0] = std::byte{1};
        }
        return;
    }
    auto* header = reinterpret_cast<SegmentHeader*>(seg.data());
    if (header->magic == 0) header->magic = 1;
    header->lock.init(mpshm::detail::is_recursive(header->lock_kind));
    if (recompute) header->checksum = header->compute_checksum();
}

// A segment of SIZE zero bytes under a random name, unlinked when it goes.
class Segment {
  public:
    explicit Segment(std::size_t size)
        : shm_({.create = true, .size = std::max<std::size_t>(size, 1)}) {}
    explicit Segment(const Bytes& bytes) : Segment(bytes.size()) {
        if (!bytes.empty()) std::memcpy(shm_.buf().data(), bytes.data(), bytes.size());
    }
    [[nodiscard]] const std::string& name() const noexcept { return shm_.name(); }
    [[nodiscard]] std::span<std::byte> buf() { return shm_.buf(); }

  private:
    mpshm::SharedMemory shm_;
};

// The segment a typed harness attaches to. MODE raw: the rest of the input,
// byte for byte. Otherwise IMAGE, resized and damaged by the input's ops,
// from the typed anchors and then EXTRA ones (offsets into the image's data).
inline Segment typed_segment(Reader& in, std::uint8_t mode, const Bytes& image,
                             const std::vector<std::size_t>& extra = {},
                             std::size_t writable_end = std::numeric_limits<std::size_t>::max()) {
    if (mode == raw) {
        Segment seg(in.rest());
        prepare_typed(seg.buf(), false);
        return seg;
    }
    const std::size_t size = read_size(in, image);
    Segment seg(size);
    const std::size_t data = data_offset_of(image);
    auto anchors = typed_anchors(data, size);
    anchors.resize(extra_anchors, size);  // room to grow: the end until then
    for (const std::size_t e : extra) anchors.push_back(data + e);
    apply_ops(in, seg.buf(), image, anchors, data, writable_end);
    prepare_typed(seg.buf(), mode == checksum);
    return seg;
}

}  // namespace mpshm_fuzz
