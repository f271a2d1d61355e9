// mpshm: a fixed-length list of mixed items in shared memory, the mirror of
// Python's multiprocessing.shared_memory.ShareableList, byte for byte.
// SPDX-License-Identifier: MIT
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <mpshm/detail/python_repr.hpp>
#include <mpshm/detail/python_str.hpp>
#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>

namespace mpshm {

// Python's bytes. A std::string item is Python's str, and must be UTF-8.
struct Bytes {
    std::string data;
    friend bool operator==(const Bytes&, const Bytes&) = default;
};

// Python's None.
using None = std::monostate;

// One item of a ShareableList: None, int, float, bool, str or bytes.
using ListItem = std::variant<None, std::int64_t, double, bool, std::string, Bytes>;

namespace detail {

// Python's `a == b` for two list items: numbers compare by value, bool as the
// int 0 or 1 and int against float exactly (2**53 + 1 != 2.0**53); NaN equals
// nothing; a str never equals bytes.
inline bool python_equal(const ListItem& a, const ListItem& b) {
    struct Number {
        bool is_float;
        std::int64_t i;
        double d;
    };
    const auto number = [](const ListItem& x) -> std::optional<Number> {
        if (const auto* i = std::get_if<std::int64_t>(&x)) return Number{false, *i, 0.0};
        if (const auto* v = std::get_if<bool>(&x)) return Number{false, *v ? 1 : 0, 0.0};
        if (const auto* d = std::get_if<double>(&x)) return Number{true, 0, *d};
        return std::nullopt;
    };
    const auto int_equals_float = [](std::int64_t i, double d) {
        constexpr double two_63 = 9223372036854775808.0;
        if (!std::isfinite(d) || std::trunc(d) != d || d < -two_63 || d >= two_63) return false;
        return static_cast<std::int64_t>(d) == i;
    };
    const auto x = number(a);
    const auto y = number(b);
    if (x && y) {
        if (x->is_float && y->is_float) return x->d == y->d;
        if (x->is_float) return int_equals_float(y->i, x->d);
        if (y->is_float) return int_equals_float(x->i, y->d);
        return x->i == y->i;
    }
    if (x || y) return false;
    return a == b;  // None, str and bytes: same kind and same contents
}

// Python's repr() of a list item.
inline std::string python_repr(const ListItem& item) {
    struct Visitor {
        std::string operator()(None) const { return "None"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const { return python_float_repr(d); }
        std::string operator()(bool b) const { return b ? "True" : "False"; }
        std::string operator()(const std::string& s) const { return python_str_repr(s); }
        std::string operator()(const Bytes& b) const { return python_bytes_repr(b.data); }
    };
    return std::visit(Visitor{}, item);
}

// The struct formats ShareableList stores, and what each unpacks to.
struct ListFormat {
    enum class Kind { int64, float64, boolean, none, chars };
    Kind kind = Kind::int64;
    std::size_t size = 8;  // bytes the format packs

    // Parses the formats CPython's ShareableList writes: q, d, xxxxxxx?,
    // xxxxxx?x and Ns. Anything else is not a ShareableList's.
    static std::optional<ListFormat> parse(std::string_view f) {
        if (f == "q") return ListFormat{Kind::int64, 8};
        if (f == "d") return ListFormat{Kind::float64, 8};
        if (f == "xxxxxxx?") return ListFormat{Kind::boolean, 8};
        if (f == "xxxxxx?x") return ListFormat{Kind::none, 8};
        if (f.empty() || f.back() != 's') return std::nullopt;
        const std::string_view digits = f.substr(0, f.size() - 1);
        if (digits.empty()) return ListFormat{Kind::chars, 1};  // struct's "s" is "1s"
        std::size_t n = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return std::nullopt;
            n = n * 10 + static_cast<std::size_t>(c - '0');  // at most 7 digits: no overflow
        }
        return ListFormat{Kind::chars, n};
    }
};

// Python's _extract_recreation_code: how a stored value turns back into an item.
enum class BackTransform : signed char { value = 0, str = 1, bytes = 2, none = 3 };

}  // namespace detail

// Python's ShareableList: a list of fixed length whose items (int, float,
// bool, str, bytes, None) live in one shared-memory segment, laid out exactly
// as CPython lays them out so that Python and C++ processes share one list:
//   8 bytes      the number of items N
//   (N+1) * 8    each item's offset into the data area, and the area's end
//   ...          the data: 8 bytes per number, bool or None; str and bytes
//                get 8 * (len // 8 + 1) bytes (len in characters for str)
//   N * 8        each item's struct format, NUL-padded: "q", "d", "16s", ...
//   N            each item's back-transform code (0 value, 1 str, 2 bytes, 3 None)
// Items can be replaced but a str or bytes never outgrows its original slot.
// Like Python, no lock guards the items; every read is checked against the
// segment's size, so a damaged segment raises CorruptSegmentError instead of
// reading out of bounds.
class ShareableList {
  public:
    // What the non-const operator[] returns: reads as a ListItem and assigns
    // through set(), so that `sl[0] = 5` works as in Python.
    class Reference {
      public:
        Reference(const Reference&) = default;
        // sl[0] = sl[1] copies the item, not the reference.
        // NOLINTNEXTLINE(bugprone-unhandled-self-assignment): x = x reads and writes back
        Reference& operator=(const Reference& other) { return *this = other.get(); }
        Reference& operator=(const ListItem& value) {
            list_->set(index_, value);
            return *this;
        }
        [[nodiscard]] ListItem get() const { return std::as_const(*list_)[index_]; }
        operator ListItem() const { return get(); }  // NOLINT: a proxy converts implicitly
        friend bool operator==(const Reference& r, const ListItem& value) {
            return r.get() == value;
        }
        friend std::ostream& operator<<(std::ostream& os, const Reference& r) {
            return os << detail::python_repr(r.get());
        }

      private:
        friend class ShareableList;
        Reference(ShareableList& list, std::ptrdiff_t index) : list_(&list), index_(index) {}
        ShareableList* list_;
        std::ptrdiff_t index_;
    };

    // Python: ShareableList(sequence, name=None). Creates a segment (a random
    // psm_ name unless options.name) that this object unlinks when destroyed
    // unless options.track is false. Throws std::invalid_argument for a str
    // that is not UTF-8, for a str whose UTF-8 is longer than the slot Python
    // gives it (CPython would silently cut it) and for an item too large for
    // an 8-character format.
    explicit ShareableList(const std::vector<ListItem>& items, const SegmentOptions& options = {})
        : ShareableList(plan(items), items, options) {}
    ShareableList(std::initializer_list<ListItem> items, const SegmentOptions& options = {})
        : ShareableList(std::vector<ListItem>(items), options) {}

    // Python: ShareableList(name=name). Attaches to a list that Python or C++
    // made; throws CorruptSegmentError if the segment does not hold one.
    explicit ShareableList(std::string_view name) : shm_(name) { parse_header(); }
    static ShareableList attach(std::string_view name) { return ShareableList(name); }

    ShareableList(ShareableList&&) noexcept = default;
    ShareableList& operator=(ShareableList&&) noexcept = default;

    // Python's sl[i], negative indices counting from the end. Throws
    // std::out_of_range (Python's IndexError) past either end.
    [[nodiscard]] ListItem operator[](std::ptrdiff_t i) const {
        return load(position(i, "cannot read item", "index out of range"));
    }
    [[nodiscard]] Reference operator[](std::ptrdiff_t i) { return Reference(*this, i); }

    // Python's sl[i] = value. A str or bytes must fit the item's slot
    // (std::invalid_argument otherwise, and the list is left unchanged);
    // any other value fits any slot.
    void set(std::ptrdiff_t i, const ListItem& value) {
        const std::size_t pos = position(i, "cannot assign item", "assignment index out of range");
        const std::size_t slot = offsets_[pos + 1] - offsets_[pos];
        std::string format;
        std::string_view payload;
        if (const auto* s = std::get_if<std::string>(&value)) {
            if (!detail::utf8_length(*s)) {
                throw std::invalid_argument(
                    item_message("cannot assign item", i, "a str item must be valid UTF-8"));
            }
            payload = *s;
        } else if (const auto* b = std::get_if<Bytes>(&value)) {
            payload = b->data;
        }
        if (std::holds_alternative<std::string>(value) || std::holds_alternative<Bytes>(value)) {
            if (payload.size() > slot) {
                throw std::invalid_argument(item_message(
                    "cannot assign item", i,
                    "bytes/str item exceeds available storage (" + std::to_string(payload.size()) +
                        " bytes, the slot holds " + std::to_string(slot) + ")"));
            }
            // Python keeps a str/bytes format and makes one of the slot's size
            // for a slot that held a number, bool or None.
            format = load_format(pos);
            if (format.empty() || format.back() != 's') format = std::to_string(slot) + "s";
        } else {
            format = type_format(value);
        }
        // Python would write past the slot, or cut the str, with a format that
        // does not match the slot: only a damaged segment has one.
        const auto parsed =
            format.size() <= format_width ? detail::ListFormat::parse(format) : std::nullopt;
        if (!parsed || (parsed->kind == detail::ListFormat::Kind::chars ? parsed->size != slot
                                                                        : parsed->size > slot)) {
            throw CorruptSegmentError(item_message("cannot assign item", i,
                                                   "its slot of " + std::to_string(slot) +
                                                       " bytes cannot hold format '" + format +
                                                       "'"));
        }
        const auto buf = shm_.buf();
        store_format(buf, pos, format, back_transform(value));
        pack(buf.subspan(data_start() + offsets_[pos], parsed->size), value);
    }

    // Python's len(sl).
    [[nodiscard]] std::size_t size() const noexcept { return length_; }

    // Python's sl.count(value): items == value as Python compares them, so
    // 1, 1.0 and True count alike.
    [[nodiscard]] std::size_t count(const ListItem& value) const {
        std::size_t n = 0;
        for (std::size_t pos = 0; pos < length_; ++pos) {
            if (detail::python_equal(value, load(pos))) ++n;
        }
        return n;
    }

    // Python's sl.index(value): the first position of an equal item. Throws
    // std::invalid_argument (Python's ValueError) if there is none.
    [[nodiscard]] std::size_t index(const ListItem& value) const {
        for (std::size_t pos = 0; pos < length_; ++pos) {
            if (detail::python_equal(value, load(pos))) return pos;
        }
        throw std::invalid_argument(detail::segment_message(
            name(), "ShareableList.index", detail::python_repr(value) + " not in this container"));
    }

    // Python's sl.format: every item's struct format, e.g. "q8sd?".
    [[nodiscard]] std::string format() const {
        std::string out;
        for (std::size_t pos = 0; pos < length_; ++pos) out += load_format(pos);
        return out;
    }

    [[nodiscard]] const std::string& name() const noexcept { return shm_.name(); }
    [[nodiscard]] SharedMemory& shm() noexcept { return shm_; }
    [[nodiscard]] const SharedMemory& shm() const noexcept { return shm_; }

    // Python's repr(sl): ShareableList([1, 2.5, 'a', b'x', None, True], name='psm_...').
    friend std::ostream& operator<<(std::ostream& os, const ShareableList& sl) {
        std::string out = "ShareableList([";
        for (std::size_t pos = 0; pos < sl.length_; ++pos) {
            if (pos != 0) out += ", ";
            out += detail::python_repr(sl.load(pos));
        }
        out += "], name=" + detail::python_str_repr(sl.name()) + ')';
        return os << out;
    }

  private:
    static constexpr std::size_t alignment = 8;  // Python's _alignment
    static constexpr std::size_t format_width = 8;

    struct Plan {
        std::vector<std::string> formats;
        std::vector<std::size_t> offsets;  // N + 1
        std::size_t size = 0;              // bytes of the whole segment
    };

    ShareableList(Plan p, const std::vector<ListItem>& items, const SegmentOptions& options)
        : shm_(SharedMemory::Options{.name = options.name,
                                     .create = true,
                                     .size = p.size,
                                     .track = options.track,
                                     .mode = options.mode}),
          length_(items.size()),
          offsets_(std::move(p.offsets)) {
        const auto buf = shm_.buf();
        store_u64(buf, 0, length_);
        for (std::size_t k = 0; k <= length_; ++k) store_u64(buf, 8 * (k + 1), offsets_[k]);
        for (std::size_t pos = 0; pos < length_; ++pos) {
            const std::size_t width = offsets_[pos + 1] - offsets_[pos];
            const std::size_t packed = p.formats[pos].back() == 's' ? width : 8;
            pack(buf.subspan(data_start() + offsets_[pos], packed), items[pos]);
            store_format(buf, pos, p.formats[pos], back_transform(items[pos]));
        }
    }

    // Python's _types_mapping for everything but str and bytes.
    static std::string type_format(const ListItem& value) {
        if (std::holds_alternative<std::int64_t>(value)) return "q";
        if (std::holds_alternative<double>(value)) return "d";
        if (std::holds_alternative<bool>(value)) return "xxxxxxx?";
        return "xxxxxx?x";  // None
    }

    static detail::BackTransform back_transform(const ListItem& value) {
        if (std::holds_alternative<std::string>(value)) return detail::BackTransform::str;
        if (std::holds_alternative<Bytes>(value)) return detail::BackTransform::bytes;
        if (std::holds_alternative<None>(value)) return detail::BackTransform::none;
        return detail::BackTransform::value;
    }

    // The formats, offsets and size CPython computes for ITEMS.
    static Plan plan(const std::vector<ListItem>& items) {
        Plan p;
        p.offsets.push_back(0);
        std::size_t offset = 0;
        for (std::size_t pos = 0; pos < items.size(); ++pos) {
            const ListItem& item = items[pos];
            std::size_t width = alignment;
            std::string format;
            if (std::holds_alternative<std::string>(item) || std::holds_alternative<Bytes>(item)) {
                const std::string& data = std::holds_alternative<std::string>(item)
                                              ? std::get<std::string>(item)
                                              : std::get<Bytes>(item).data;
                std::size_t length = data.size();
                if (std::holds_alternative<std::string>(item)) {
                    const auto chars = detail::utf8_length(data);
                    if (!chars)
                        throw std::invalid_argument(plan_message(pos, "is not valid UTF-8"));
                    length = *chars;  // Python sizes a str by its characters
                }
                width = alignment * (length / alignment + 1);
                format = std::to_string(width) + "s";
                if (format.size() > format_width) {
                    throw std::invalid_argument(plan_message(
                        pos, "is too long: its format '" + format + "' exceeds 8 characters"));
                }
                if (data.size() > width) {
                    throw std::invalid_argument(
                        plan_message(pos, "needs " + std::to_string(data.size()) +
                                              " bytes of UTF-8 but Python's layout gives it " +
                                              std::to_string(width) +
                                              ": bytes/str item exceeds available storage"));
                }
            } else {
                format = type_format(item);
            }
            offset += width;
            p.offsets.push_back(offset);
            p.formats.push_back(std::move(format));
        }
        const std::size_t n = items.size();
        p.size = 8 + 8 * (n + 1) + offset + format_width * n + n;
        return p;
    }

    static std::string plan_message(std::size_t pos, const std::string& what) {
        return "mpshm: ShareableList: cannot create: item " + std::to_string(pos) + " " + what;
    }

    std::string item_message(const char* action, std::ptrdiff_t i, const std::string& why) const {
        return detail::segment_message(name(), std::string(action) + " " + std::to_string(i), why);
    }

    [[noreturn]] void corrupt(const std::string& why) const {
        throw CorruptSegmentError(
            detail::segment_message(name(), "not a valid ShareableList", why));
    }

    std::size_t position(std::ptrdiff_t i, const char* action, const char* python_message) const {
        const auto n = static_cast<std::ptrdiff_t>(length_);
        const std::ptrdiff_t pos = i < 0 ? i + n : i;
        if (pos < 0 || pos >= n) {
            throw std::out_of_range(item_message(action, i,
                                                 std::string(python_message) + " (the list has " +
                                                     std::to_string(length_) + " items)"));
        }
        return static_cast<std::size_t>(pos);
    }

    // Offsets into the segment (Python's _offset_* properties).
    [[nodiscard]] std::size_t data_start() const noexcept { return (length_ + 2) * 8; }
    [[nodiscard]] std::size_t formats_start() const noexcept {
        return data_start() + offsets_[length_];
    }
    [[nodiscard]] std::size_t codes_start() const noexcept {
        return formats_start() + format_width * length_;
    }

    static void store_u64(std::span<std::byte> buf, std::size_t at, std::size_t value) {
        const auto v = static_cast<std::int64_t>(value);
        std::memcpy(buf.data() + at, &v, sizeof v);
    }

    static std::int64_t load_i64(std::span<const std::byte> buf, std::size_t at) {
        std::int64_t v = 0;
        std::memcpy(&v, buf.data() + at, sizeof v);
        return v;
    }

    void store_format(std::span<std::byte> buf, std::size_t pos, const std::string& format,
                      detail::BackTransform code) const {
        std::byte* f = buf.data() + formats_start() + format_width * pos;
        std::memset(f, 0, format_width);
        std::memcpy(f, format.data(), format.size());
        buf[codes_start() + pos] = static_cast<std::byte>(code);
    }

    // struct.pack_into(format, buf, offset, value) for the formats of
    // type_format and Ns: OUT is exactly the bytes the format packs.
    static void pack(std::span<std::byte> out, const ListItem& value) {
        std::memset(out.data(), 0, out.size());
        if (const auto* i = std::get_if<std::int64_t>(&value)) {
            std::memcpy(out.data(), i, sizeof *i);
        } else if (const auto* d = std::get_if<double>(&value)) {
            std::memcpy(out.data(), d, sizeof *d);
        } else if (const auto* b = std::get_if<bool>(&value)) {
            out[7] = std::byte{*b ? std::uint8_t{1} : std::uint8_t{0}};
        } else if (const auto* s = std::get_if<std::string>(&value)) {
            std::memcpy(out.data(), s->data(), s->size());
        } else if (const auto* bytes = std::get_if<Bytes>(&value)) {
            std::memcpy(out.data(), bytes->data.data(), bytes->data.size());
        }  // None packs as eight zero bytes
    }

    // Python's _get_packing_format: the stored format without its NUL padding.
    [[nodiscard]] std::string load_format(std::size_t pos) const {
        const auto buf = shm_.buf();
        std::string f(
            reinterpret_cast<const char*>(buf.data() + formats_start() + format_width * pos),
            format_width);
        f.erase(f.find_last_not_of('\0') + 1);
        return f;
    }

    // Python's __getitem__ at a valid position.
    [[nodiscard]] ListItem load(std::size_t pos) const {
        const auto buf = shm_.buf();
        const std::string format = load_format(pos);
        const auto parsed = detail::ListFormat::parse(format);
        const std::string where = "item " + std::to_string(pos);
        if (!parsed) {
            corrupt(where + " has the unknown format " + detail::python_bytes_repr(format));
        }
        const std::size_t at = data_start() + offsets_[pos];
        if (parsed->size > buf.size() - at) {
            corrupt(where + "'s format '" + format + "' reaches past the end of the segment");
        }
        const auto* data = buf.data() + at;
        const auto code = static_cast<signed char>(buf[codes_start() + pos]);
        using Kind = detail::ListFormat::Kind;
        std::string chars;
        if (parsed->kind == Kind::chars) {
            chars.assign(reinterpret_cast<const char*>(data), parsed->size);
        }
        switch (static_cast<detail::BackTransform>(code)) {
            case detail::BackTransform::value:
                switch (parsed->kind) {
                    case Kind::int64:
                        return load_i64(buf, at);
                    case Kind::float64: {
                        double d = 0;
                        std::memcpy(&d, data, sizeof d);
                        return d;
                    }
                    case Kind::boolean:
                        return data[7] != std::byte{0};
                    case Kind::none:
                        return data[6] != std::byte{0};
                    case Kind::chars:
                        return Bytes{std::move(chars)};  // as Python: no rstrip
                }
                break;
            case detail::BackTransform::str:
            case detail::BackTransform::bytes:
                if (parsed->kind != Kind::chars) {
                    corrupt(where + " is marked str or bytes but has the format '" + format + "'");
                }
                chars.erase(chars.find_last_not_of('\0') + 1);  // Python's rstrip(b'\x00')
                if (code == static_cast<signed char>(detail::BackTransform::bytes)) {
                    return Bytes{std::move(chars)};
                }
                if (!detail::utf8_length(chars)) corrupt(where + " is a str that is not UTF-8");
                return chars;
            case detail::BackTransform::none:
                return None{};
        }
        corrupt(where + " has the unknown back-transform code " + std::to_string(code));
    }

    // Python's attaching __init__, with the checks Python leaves to chance:
    // the length, the offsets and the format and code areas must fit.
    void parse_header() {
        const auto buf = std::as_const(shm_).buf();
        const std::size_t size = buf.size();
        if (size < 16) {
            corrupt("its " + std::to_string(size) +
                    " bytes are too few for a ShareableList header (16 at least)");
        }
        const std::int64_t n = load_i64(buf, 0);
        if (n < 0 || static_cast<std::uint64_t>(n) > size / 8 - 2) {
            corrupt("its length " + std::to_string(n) + " does not fit its " +
                    std::to_string(size) + " bytes");
        }
        length_ = static_cast<std::size_t>(n);
        offsets_.resize(length_ + 1);
        std::int64_t previous = 0;
        for (std::size_t k = 0; k <= length_; ++k) {
            const std::int64_t offset = load_i64(buf, 8 * (k + 1));
            if (offset < previous) {
                corrupt("the offset of item " + std::to_string(k) + " (" + std::to_string(offset) +
                        ") is negative or smaller than the one before");
            }
            offsets_[k] = static_cast<std::size_t>(offset);
            previous = offset;
        }
        // The data, N formats of 8 bytes and N codes of 1 byte must fit.
        const std::size_t fixed = data_start() + (format_width + 1) * length_;
        if (fixed > size || offsets_[length_] > size - fixed) {
            corrupt("its " + std::to_string(length_) + " items with " +
                    std::to_string(offsets_[length_]) + " bytes of data do not fit its " +
                    std::to_string(size) + " bytes");
        }
    }

    SharedMemory shm_;
    std::size_t length_ = 0;
    std::vector<std::size_t> offsets_;  // Python's _allocated_offsets: N + 1 of them
};

}  // namespace mpshm
