#!/usr/bin/env python3
"""Writes the seed corpus of mpshm's fuzz harnesses: tests/fuzz/corpus/<harness>/.

Seeds describe objects and damage (fuzz_support.hpp), never whole images: the
harness makes the object, copies its segment and applies the ops, each from a
named field. So the seeds keep reaching the same code when the header's
layout changes. Inputs that found a bug before it was fixed are regression-* seeds (here
as descriptions too; the fuzzer's own findings are found-* files, kept as
it wrote them, which this script leaves alone).

    python3 tests/fuzz/make_corpus.py
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

RAW, OVERLAY, CHECKSUM, HEAP = 0, 1, 2, 3

# fuzz_support.hpp's TypedAnchor, in order.
(MAGIC, VERSION, HEADER_SIZE, KIND, LOCK_KIND, ELEM_SIZE, ELEM_ALIGN, TYPE_TAG, COUNT,
 DATA_OFFSET, DATA_BYTES, CREATOR_PID, LOCK_SEGMENT, CHECKSUM_FIELD, RECOVERIES, REPAIRED,
 LOCKFREE_USED, LOCK, DATA, END) = range(20)
EXTRA = 32  # the harness's own anchors follow (extra_anchors)

# interesting() in fuzz_support.hpp, by index.
I_0, I_1, I_2, I_3, I_4, I_7, I_8 = 0, 1, 2, 3, 4, 5, 6
I_U32_MAX, I_U64_MAX = 16, 20
I_SIZE, I_SIZE_MINUS_1, I_SIZE_PLUS_1, I_SIZE_MINUS_DATA = 21, 22, 23, 24
I_DATA, I_MINUS_8, I_MINUS_4 = 26, 28, 29


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def i16(v):
    return struct.pack("<h", v)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def write(anchor, delta, data):
    assert len(data) < 17
    return u8(anchor) + i16(delta) + u8(0) + u8(len(data)) + data


def store64(anchor, delta, pick):
    return u8(anchor) + i16(delta) + u8(1) + u8(pick)


def add64(anchor, delta, amount):
    return u8(anchor) + i16(delta) + u8(2) + struct.pack("<b", amount)


def store32(anchor, delta, pick):
    return u8(anchor) + i16(delta) + u8(3) + u8(pick)


def xor(anchor, delta, mask):
    return u8(anchor) + i16(delta) + u8(4) + u8(mask)


def seeds_value():
    s = {}
    for kind in range(5):  # each kind, undamaged: every read path
        s[f"valid-kind{kind}"] = u8(OVERLAY) + u8(kind) + u8(kind) + u64(41) + i16(0)
    s["attach-as-other-type"] = u8(OVERLAY) + u8(0) + u8(193) + u64(1) + i16(0)
    s["raw-header-magic"] = u8(RAW) + b"\0\0\0MSPM" + b"\2\0\0\0" + bytes(52)
    s["raw-too-small"] = u8(RAW) + b"MPSHM"
    s["count-2-checksummed"] = (u8(CHECKSUM) + u8(0) + u8(0) + u64(0) + i16(0) +
                                store64(COUNT, 0, I_2))
    s["damaged-no-checksum"] = u8(OVERLAY) + u8(1) + u8(1) + u64(0) + i16(0) + xor(COUNT, 0, 1)
    s["data-past-end"] = (u8(CHECKSUM) + u8(2) + u8(2) + u64(7) + i16(-8) +
                          store64(DATA_BYTES, 0, I_SIZE))
    s["external-lock-absent"] = (u8(CHECKSUM) + u8(4) + u8(4) + u64(3) + i16(0) +
                                 write(LOCK_SEGMENT, 0, b"no_such_segment\0"))
    s["external-lock-bad-name"] = (u8(CHECKSUM) + u8(4) + u8(4) + u64(3) + i16(0) +
                                   write(LOCK_SEGMENT, 0, b"a/b\0"))
    s["lockfree-used"] = (u8(OVERLAY) + u8(0) + u8(0) + u64(9) + i16(0) +
                          store32(LOCKFREE_USED, 0, I_1))
    # The data moved from where every creator puts it (the fuzzer found this
    # misaligning a Queue's and a Manager's state): refused.
    s["data-offset-moved"] = (u8(CHECKSUM) + u8(0) + u8(0) + u64(5) + i16(4) +
                              add64(DATA_OFFSET, 0, 4))
    return s


def seeds_array():
    s = {}
    for kind in range(5):
        n = 3 if kind == 1 else 5
        s[f"valid-kind{kind}"] = (u8(OVERLAY) + u8(kind) + u8(kind) + u8(n) + bytes(range(1, n + 1)) +
                                  i16(0))
    s["attach-fixed-length-mismatch"] = u8(OVERLAY) + u8(0) + u8(196) + u8(4) + b"\1\2\3\4" + i16(0)
    s["count-grown-checksummed"] = (u8(CHECKSUM) + u8(0) + u8(0) + u8(4) + b"\1\2\3\4" + i16(0) +
                                    add64(COUNT, 0, 1) + add64(DATA_BYTES, 0, 4))
    s["count-overflowing-checksummed"] = (u8(CHECKSUM) + u8(3) + u8(3) + u8(2) + b"\1\2" + i16(0) +
                                          store64(COUNT, 0, I_U64_MAX) +
                                          store64(DATA_BYTES, 0, I_MINUS_8))
    s["raw-zeros"] = u8(RAW) + bytes(600)
    # Found by the fuzzer, byte for byte: copy_to() and assign() of an empty
    # Array passed memcpy a null pointer (UBSan).
    s["regression-empty-array"] = bytes.fromhex("0a")
    return s


def queue_params(kind, maxsize, capacity, actions):
    assert maxsize < 8 and capacity < 1024 and len(actions) < 24
    return u8(kind) + u8(kind) + u8(maxsize) + u16(capacity) + u8(len(actions)) + b"".join(actions)


def put_int(v):
    return u8(0) + u64(v)


def put_str(text):
    assert len(text) < 48
    return u8(0) + u8(len(text)) + text


GET = u8(1)

# QueueState anchors (fuzz_queue.cpp).
Q_CAPACITY, Q_MAXSIZE, Q_READ, Q_WRITE, Q_ITEMS, Q_UNFINISHED = range(EXTRA, EXTRA + 6)
Q_RING = EXTRA + 9


def seeds_queue():
    s = {}
    s["valid-ints"] = u8(OVERLAY) + queue_params(0, 0, 64, [put_int(1), put_int(2), put_int(3)]) + i16(0)
    s["valid-strings-wrapped"] = (u8(OVERLAY) + queue_params(
        1, 0, 40, [put_str(b"abcdefghijklmnop"), put_str(b"0123456789"), GET,
                   put_str(b"wrapping around"), GET, put_str(b"xy")]) + i16(0))
    s["valid-joinable-full"] = (u8(OVERLAY) + queue_params(
        2, 2, 128, [put_int(7), put_int(8), put_int(9)]) + i16(0))
    s["write-pos-past-ring"] = (u8(OVERLAY) + queue_params(0, 0, 64, [put_int(1)]) + i16(0) +
                                store64(Q_WRITE, 0, I_U64_MAX))
    s["read-pos-past-write"] = (u8(OVERLAY) + queue_params(1, 0, 64, [put_str(b"abc")]) + i16(0) +
                                add64(Q_READ, 0, 100))
    s["record-longer-than-used"] = (u8(OVERLAY) + queue_params(1, 0, 64, [put_str(b"abc")]) + i16(0) +
                                    store32(Q_RING, 0, I_U32_MAX))
    s["recount-after-recovery"] = (u8(OVERLAY) + queue_params(1, 0, 64, [put_str(b"abc"), put_str(b"de")]) +
                                   i16(0) + store32(RECOVERIES, 0, I_1) + add64(Q_WRITE, 0, -1))
    s["capacity-damaged"] = (u8(OVERLAY) + queue_params(0, 0, 64, []) + i16(0) +
                             add64(Q_CAPACITY, 0, 1))
    # A ring too small for a record's length, and a position inside it: a
    # get read the length past the ring and past the segment's end.
    s["regression-tiny-ring"] = (u8(OVERLAY) + queue_params(0, 0, 1, []) + i16(0) +
                                 store64(Q_WRITE, 0, I_1))
    # Data one byte later than every creator puts it, the header otherwise
    # consistent: the state, its atomics and futexes misaligned (UBSan).
    s["regression-misaligned-state"] = (u8(CHECKSUM) + queue_params(0, 0, 64, [put_int(1)]) + i16(0) +
                                        add64(DATA_OFFSET, 0, 1) + add64(DATA_BYTES, 0, -1) +
                                        add64(COUNT, 0, -1))
    return s


def sl_params(items):
    assert len(items) < 9
    return u8(len(items)) + b"".join(items)


def sl_int(v):
    return u8(0) + u64(v)


def sl_float(bits):
    return u8(1) + u64(bits)


def sl_bool(b):
    return u8(2) + u8(1 if b else 0)


SL_NONE = u8(3)


def sl_str(codes):
    assert len(codes) < 24
    return u8(4) + u8(len(codes)) + bytes(codes)


def sl_bytes(data):
    assert len(data) < 24
    return u8(5) + u8(len(data)) + data


# fuzz_shareable_list.cpp's anchors.
SL_LENGTH, SL_OFFSETS, SL_DATA, SL_FORMATS, SL_CODES, SL_END = range(6)
SL_ITEM_DATA, SL_ITEM_FORMAT, SL_ITEM_CODE = 6, 14, 22


def seeds_shareable_list():
    s = {}
    mixed = [sl_int(42), sl_float(0x4004000000000000), sl_bool(True), SL_NONE,
             sl_str([72, 73, 250]), sl_bytes(b"\0raw\xff")]
    s["valid-mixed"] = u8(OVERLAY) + sl_params(mixed) + i16(0)
    s["valid-empty"] = u8(OVERLAY) + sl_params([]) + i16(0)
    s["format-past-end"] = (u8(OVERLAY) + sl_params(mixed) + i16(0) +
                            write(SL_ITEM_FORMAT + 4, 0, b"9999999s"))
    s["unknown-format-and-code"] = (u8(OVERLAY) + sl_params(mixed) + i16(0) +
                                    write(SL_ITEM_FORMAT + 0, 0, b"zz\0\0\0\0\0\0") +
                                    write(SL_ITEM_CODE + 1, 0, b"\7"))
    s["str-not-utf8"] = (u8(OVERLAY) + sl_params([sl_str([65, 66, 67])]) + i16(0) +
                         write(SL_ITEM_DATA, 0, b"\xc3("))
    s["offsets-backwards"] = (u8(OVERLAY) + sl_params(mixed) + i16(0) +
                              store64(SL_OFFSETS, 16, I_0))
    s["length-huge"] = u8(OVERLAY) + sl_params(mixed) + i16(0) + store64(SL_LENGTH, 0, I_U64_MAX)
    s["truncated"] = u8(OVERLAY) + sl_params(mixed) + i16(-20)
    # CPython's layout by hand: one int, 41 bytes.
    s["raw-one-int"] = (u8(RAW) + u64(1) + u64(0) + u64(8) + u64(5) + b"q\0\0\0\0\0\0\0" + b"\0")
    return s


# fuzz_manager.cpp's anchors after the typed ones.
M_HEAP_OFFSET, M_HEAP_SIZE, M_NEXT_OBJECT, M_GENERATION, M_DAMAGED, M_HEAP = range(EXTRA, EXTRA + 6)


def manager_params(ints, pairs, strings):
    assert len(ints) < 12 and len(pairs) < 6 and len(strings) < 6
    assert all(len(k) < 12 for k, _ in pairs) and all(len(t) < 16 for t in strings)
    out = u8(len(ints)) + bytes(ints)
    out += u8(len(pairs)) + b"".join(u8(len(k)) + k + u8(v) for k, v in pairs)
    out += u8(len(strings)) + b"".join(u8(len(t)) + t for t in strings)
    return out


def seeds_manager():
    s = {}
    full = manager_params([1, 2, 3, 250], [(b"a", 1), (b"key", 2)], [b"hello", b"a longer string"])
    s["valid"] = u8(OVERLAY) + full + i16(0)
    s["valid-empty-grown"] = u8(OVERLAY) + manager_params([], [], []) + i16(100)
    s["rebuild-after-recovery"] = u8(OVERLAY) + full + i16(0) + store32(RECOVERIES, 0, I_1)
    s["damaged-flag"] = u8(OVERLAY) + full + i16(0) + store32(M_DAMAGED, 0, I_1)
    s["heap-size-mismatch"] = u8(CHECKSUM) + full + i16(0) + add64(M_HEAP_SIZE, 0, -8)
    s["heap-offset-moved"] = u8(CHECKSUM) + full + i16(0) + add64(M_HEAP_OFFSET, 0, 8)
    s["next-object-huge"] = u8(OVERLAY) + full + i16(0) + store64(M_NEXT_OBJECT, 0, I_U64_MAX)
    s["raw-zeros"] = u8(RAW) + bytes(300)
    # The header and state agree on a heap of 200 bytes, and the segment
    # ends there: Boost's segment manager alone is larger, and List attach
    # read past the segment's end. Now refused: a heap of 4096 bytes at least.
    s["regression-heap-too-small"] = (u8(CHECKSUM) + manager_params([], [], []) + i16(-3896) +
                                      store64(COUNT, 0, I_SIZE_MINUS_DATA) +
                                      store64(DATA_BYTES, 0, I_SIZE_MINUS_DATA) +
                                      store64(M_HEAP_SIZE, 0, I_SIZE_MINUS_DATA) +
                                      add64(M_HEAP_SIZE, 0, -64))
    # Header and state say 4096 + 64 bytes of heap where Boost made 4096.
    s["heap-size-not-boosts"] = (u8(CHECKSUM) + full + i16(64) + add64(COUNT, 0, 64) +
                                 add64(DATA_BYTES, 0, 64) + add64(M_HEAP_SIZE, 0, 64))
    # Mode 3: Boost's own header zeroed; only Manager::attach runs.
    s["heap-zeroed"] = u8(HEAP) + full + i16(0) + b"".join(store64(M_HEAP, k, I_0) for k in range(0, 64, 8))
    s["heap-flipped"] = u8(HEAP) + full + i16(0) + xor(M_HEAP, 200, 0x40) + xor(M_HEAP, 300, 0x01)
    # Data one byte later than every creator puts it, the header otherwise
    # consistent: the ManagerState and the heap misaligned (UBSan).
    s["regression-misaligned-state"] = (u8(CHECKSUM) + full + i16(0) + add64(DATA_OFFSET, 0, 1) +
                                        add64(DATA_BYTES, 0, -1) + add64(COUNT, 0, -1))
    return s


def main():
    for harness, seeds in (("value", seeds_value()), ("array", seeds_array()),
                           ("queue", seeds_queue()), ("shareable_list", seeds_shareable_list()),
                           ("manager", seeds_manager())):
        directory = os.path.join(HERE, "corpus", harness)
        os.makedirs(directory, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        print(f"{directory}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
