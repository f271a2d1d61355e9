// Fuzzes Queue<T>::attach and JoinableQueue<T>::attach, and the ring behind
// them. Parameters (image modes, see fuzz_support.hpp):
//   u8   the kind made (mod 3): 0 Queue<int>, 1 Queue<std::string>,
//        2 JoinableQueue<int64_t>
//   u8   the kind attached: below 192 the same, else the byte mod 3
//   u8   maxsize (mod 8)
//   u16  ring bytes (mod 1024; 0 is 64 where it would mean 1 MiB)
//   u8   actions (mod 24) before the image is taken, each a u8: even puts a
//        message (an int64 of 8 bytes, or a string: u8 length mod 48, then
//        its bytes), odd gets one; so the ring may wrap
// Ops may also start from the queue's state fields (anchors from
// extra_anchors, 32, on): capacity, maxsize, read_pos, write_pos, items, unfinished,
// not_empty, not_full, all_done, the ring.
// SPDX-License-Identifier: MIT
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <mpshm/queues.hpp>

#include "fuzz_support.hpp"

namespace {

namespace mp = mpshm;
using mpshm_fuzz::Bytes;
using State = mp::detail::QueueState;

template <typename Q>
struct element_of;
template <typename T>
struct element_of<mp::Queue<T>> {
    using type = T;
};
template <typename T>
struct element_of<mp::JoinableQueue<T>> {
    using type = T;
};

template <typename T>
T message(mpshm_fuzz::Reader& in) {
    if constexpr (std::is_same_v<T, std::string>) {
        return in.text(in.u8() % 48U);
    } else {
        return static_cast<T>(in.u64());
    }
}

template <typename Q>
void exercise(const std::string& name) {
    using T = typename element_of<Q>::type;
    auto q = Q::attach(name);
    (void)q.qsize();
    (void)q.empty();
    (void)q.full();
    (void)q.capacity();
    (void)q.maxsize();
    mpshm_fuzz::documented([&] { q.put_nowait(T{}); });
    mpshm_fuzz::documented([&] {
        for (int i = 0; i < 64; ++i) (void)q.get_nowait();
    });
    if constexpr (std::is_same_v<mp::JoinableQueue<T>, Q>) {
        mpshm_fuzz::documented([&] {
            for (int i = 0; i < 4; ++i) q.task_done();
        });
    }
}

template <typename Q>
Bytes image(mpshm_fuzz::Reader& in) {
    using T = typename element_of<Q>::type;
    const std::size_t maxsize = in.u8() % 8U;
    std::size_t capacity = in.u16() % 1024U;
    if (capacity == 0 && (std::is_same_v<T, std::string> || maxsize == 0)) capacity = 64;
    Q q(mp::QueueOptions{.maxsize = maxsize, .capacity = capacity});
    for (unsigned n = in.u8() % 24U; n != 0; --n) {
        if (in.u8() % 2 == 0) {
            const T x = message<T>(in);
            mpshm_fuzz::documented([&] { q.put_nowait(x); });
        } else {
            mpshm_fuzz::documented([&] { (void)q.get_nowait(); });
        }
    }
    return mpshm_fuzz::image_of(q.name());
}

template <typename F>
void with_kind(unsigned kind, F&& f) {
    switch (kind % 3) {
        case 0:
            return f(std::type_identity<mp::Queue<int>>{});
        case 1:
            return f(std::type_identity<mp::Queue<std::string>>{});
        default:
            return f(std::type_identity<mp::JoinableQueue<std::int64_t>>{});
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mpshm_fuzz::Reader in(data, size);
    const std::uint8_t mode = in.u8() % 3;
    unsigned attach_kind = 0;
    Bytes made;
    if (mode != mpshm_fuzz::raw) {
        const unsigned kind = in.u8() % 3U;
        const std::uint8_t pick = in.u8();
        attach_kind = pick < 192 ? kind : pick % 3U;
        with_kind(kind, [&]<typename Q>(std::type_identity<Q>) { made = image<Q>(in); });
    }
    const std::vector<std::size_t> state = {offsetof(State, capacity),  offsetof(State, maxsize),
                                            offsetof(State, read_pos),  offsetof(State, write_pos),
                                            offsetof(State, items),     offsetof(State, unfinished),
                                            offsetof(State, not_empty), offsetof(State, not_full),
                                            offsetof(State, all_done),  sizeof(State)};
    auto seg = mpshm_fuzz::typed_segment(in, mode, made, state);
    const std::string& name = seg.name();
    for (unsigned kind = attach_kind; kind < (mode == mpshm_fuzz::raw ? 3U : attach_kind + 1);
         ++kind) {
        with_kind(kind, [&]<typename Q>(std::type_identity<Q>) {
            mpshm_fuzz::documented([&] { exercise<Q>(name); });
        });
    }
    return 0;
}
