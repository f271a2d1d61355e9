// Tests for mpshm/shareable_list.hpp: Python's ShareableList, checked byte for
// byte against CPython's and shared with CPython processes on the same host.
// SPDX-License-Identifier: MIT
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <mpshm/shareable_list.hpp>
#if defined(_WIN32)  // for the child started by spawn below
#include <stdexcept>

#include <mpshm/process.hpp>
#endif

#include "support/test_support.hpp"

namespace mp = mpshm;
using mp::Bytes;
using mp::ListItem;
using mp::None;
using mpshm_test::expect_error;
using mpshm_test::unique_name;
#if !defined(_WIN32)  // POSIX-only helpers: fork(), /dev/shm
using mpshm_test::exit_code;
using mpshm_test::run_in_child;
using mpshm_test::segment_exists;
using mpshm_test::SegmentCleanup;
#endif

namespace mpshm {
// GoogleTest prints Bytes as Python would in failure messages.
inline void PrintTo(const Bytes& b, std::ostream* os) {
    *os << detail::python_bytes_repr(b.data);
}
}  // namespace mpshm

namespace {

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();

// One item of every type, with the str/bytes sizes around a slot boundary.
std::vector<ListItem> every_type() {
    return {std::int64_t{7},
            std::int64_t{-1},
            2.5,
            -0.0,
            true,
            false,
            None{},
            std::string(),
            std::string("abc"),
            std::string("abcdefgh"),                  // 8 characters: a 16-byte slot
            std::string("\xc3\xa9\xc3\xa9\xc3\xa9"),  // 3 characters, 6 bytes
            Bytes{},
            Bytes{std::string("\0\x01", 2)},
            Bytes{"12345678"},
            int64_max,
            int64_min};
}
// The same list in Python.
const char* const every_type_py =
    "[7, -1, 2.5, -0.0, True, False, None, '', 'abc', 'abcdefgh', '\\u00e9\\u00e9\\u00e9', "
    "b'', b'\\x00\\x01', b'12345678', 2**63 - 1, -2**63]";
const char* const every_type_format = "qqddxxxxxxx?xxxxxxx?xxxxxx?x8s8s16s8s8s8s16sqq";

std::string repr(const mp::ShareableList& sl) {
    std::ostringstream out;
    out << sl;
    return out.str();
}

std::string hex(std::span<const std::byte> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const std::byte b : bytes) {
        out += digits[std::to_integer<unsigned>(b) >> 4U];
        out += digits[std::to_integer<unsigned>(b) & 0xFU];
    }
    return out;
}

std::int64_t load_i64(std::span<const std::byte> buf, std::size_t at) {
    std::int64_t v = 0;
    std::memcpy(&v, buf.data() + at, sizeof v);
    return v;
}

void store_i64(std::span<std::byte> buf, std::size_t at, std::int64_t v) {
    std::memcpy(buf.data() + at, &v, sizeof v);
}

// Where the formats and the back-transform codes of a list start.
std::size_t formats_start(std::span<const std::byte> buf) {
    const auto n = static_cast<std::size_t>(load_i64(buf, 0));
    return (n + 2) * 8 + static_cast<std::size_t>(load_i64(buf, 8 * (n + 1)));
}
std::size_t codes_start(std::span<const std::byte> buf) {
    return formats_start(buf) + 8 * static_cast<std::size_t>(load_i64(buf, 0));
}

void store_format(std::span<std::byte> buf, std::size_t pos, const std::string& format) {
    std::byte* at = buf.data() + formats_start(buf) + 8 * pos;
    std::memset(at, 0, 8);
    std::memcpy(at, format.data(), format.size());
}

// POSIX only: CPython beside the program (there is none under Wine).
#if !defined(_WIN32)
// Runs a Python script with ARGS; its output is UTF-8 whatever the locale.
mpshm_test::CommandResult run_python(const std::string& python, const std::string& script,
                                     const std::vector<std::string>& args) {
    std::vector<std::string> argv{python, "-c", script};
    argv.insert(argv.end(), args.begin(), args.end());
    return mpshm_test::run_command(argv, {"PYTHONIOENCODING=utf-8"}, true);
}

// The start of every script that attaches: CPython 3.11's resource tracker
// would unlink a segment this interpreter merely attached to, so unregister.
const std::string attach_py =
    "import sys\n"
    "from multiprocessing import shared_memory, resource_tracker\n"
    "sl = shared_memory.ShareableList(name=sys.argv[1])\n"
    "resource_tracker.unregister(sl.shm._name, 'shared_memory')\n";
#endif  // !defined(_WIN32)

}  // namespace

static_assert(!std::is_copy_constructible_v<mp::ShareableList>);
static_assert(std::is_nothrow_move_constructible_v<mp::ShareableList>);
static_assert(std::is_nothrow_move_assignable_v<mp::ShareableList>);
static_assert(std::is_same_v<mp::None, std::monostate>);

// ---- C++ alone ---------------------------------------------------------------

TEST(ShareableList, HoldsWhatItWasGiven) {
    const auto items = every_type();
    const mp::ShareableList sl(items);
    ASSERT_EQ(sl.size(), items.size());
    for (std::size_t i = 0; i < items.size(); ++i) EXPECT_EQ(sl[static_cast<long>(i)], items[i]);
    EXPECT_TRUE(std::signbit(std::get<double>(sl[3])));
    EXPECT_EQ(sl.format(), every_type_format);
#if !defined(_WIN32)  // its file in /dev/shm
    EXPECT_TRUE(segment_exists(sl.name()));
#endif
}

TEST(ShareableList, LayoutIsPythons) {
    const mp::ShareableList sl{std::int64_t{1}, "ab", None{}};
    // 8 (length) + 4 * 8 (offsets) + 24 (data) + 3 * 8 (formats) + 3 (codes).
    ASSERT_EQ(sl.shm().size(), 8U + 32U + 24U + 24U + 3U);
    const auto buf = sl.shm().buf();
    EXPECT_EQ(load_i64(buf, 0), 3);
    EXPECT_EQ(load_i64(buf, 8), 0);
    EXPECT_EQ(load_i64(buf, 16), 8);
    EXPECT_EQ(load_i64(buf, 24), 16);
    EXPECT_EQ(load_i64(buf, 32), 24);
    EXPECT_EQ(load_i64(buf, 40), 1);
    EXPECT_EQ(std::memcmp(buf.data() + 48, "ab\0\0\0\0\0\0", 8), 0);
    EXPECT_EQ(load_i64(buf, 56), 0);
    EXPECT_EQ(std::memcmp(buf.data() + 64, "q\0\0\0\0\0\0\08s\0\0\0\0\0\0xxxxxx?x", 24), 0);
    EXPECT_EQ(hex(buf.subspan(88)), "000103");
}

TEST(ShareableList, StrSlotsAreSizedByCharactersAsInPython) {
    const mp::ShareableList sl{"",
                               "1234567",
                               "12345678",
                               Bytes{"1234567"},
                               Bytes{"12345678"},
                               "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};  // 4 characters, 8 bytes
    EXPECT_EQ(sl.format(), "8s8s16s8s16s8s");
    EXPECT_EQ(sl[5], ListItem{"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"});
}

TEST(ShareableList, RefusesWhatPythonWouldSilentlyCut) {
    // Five characters get an 8-byte slot in Python's layout, but need 10
    // bytes of UTF-8: CPython truncates them; we refuse, creating nothing.
    // Nothing left in /dev/shm is checked on POSIX only: a Win32 section
    // goes with its last handle, so none can be left.
    const std::string name = unique_name("cut");
#if !defined(_WIN32)
    SegmentCleanup cleanup(name);
#endif
    expect_error<std::invalid_argument>(
        [&] {
            mp::ShareableList sl({std::int64_t{1}, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"},
                                 {.name = name});
        },
        {"item 1", "exceeds available storage"});
#if !defined(_WIN32)
    EXPECT_FALSE(segment_exists(name));
#endif
    expect_error<std::invalid_argument>(
        [&] {
            mp::ShareableList sl({"ok", "\xff"}, {.name = name});
        },
        {"item 1", "UTF-8"});
#if !defined(_WIN32)
    EXPECT_FALSE(segment_exists(name));
#endif
}

TEST(ShareableList, NegativeIndicesAndOutOfRange) {
    mp::ShareableList sl{std::int64_t{10}, std::int64_t{20}, std::int64_t{30}};
    const auto& csl = sl;
    EXPECT_EQ(csl[-1], ListItem{std::int64_t{30}});
    EXPECT_EQ(csl[-3], ListItem{std::int64_t{10}});
    expect_error<std::out_of_range>([&] { (void)csl[3]; }, {sl.name(), "index out of range"});
    expect_error<std::out_of_range>([&] { (void)csl[-4]; }, {sl.name(), "index out of range"});
    expect_error<std::out_of_range>([&] { sl.set(3, std::int64_t{1}); },
                                    {sl.name(), "assignment index out of range"});
    expect_error<std::out_of_range>([&] { sl[-4] = 1.5; }, {"assignment index out of range"});
    sl.set(-1, std::int64_t{33});
    sl[-2] = std::int64_t{22};
    EXPECT_EQ(sl[1], ListItem{std::int64_t{22}});
    EXPECT_EQ(sl[2], ListItem{std::int64_t{33}});
}

TEST(ShareableList, SubscriptAssignsThroughAProxy) {
    mp::ShareableList sl{std::int64_t{1}, "abc", None{}};
    sl[0] = 5;
    sl[1] = "xyz";
    sl[2] = true;
    EXPECT_EQ(sl[0], ListItem{std::int64_t{5}});
    EXPECT_EQ(sl[1], ListItem{"xyz"});
    EXPECT_EQ(sl[2], ListItem{true});
    sl[0] = sl[1];  // copies the item
    const ListItem first = sl[0];
    EXPECT_EQ(first, ListItem{"xyz"});
    EXPECT_EQ(sl.format(), "8s8sxxxxxxx?");
    std::ostringstream out;
    out << sl[1];
    EXPECT_EQ(out.str(), "'xyz'");
}

TEST(ShareableList, AssignmentsChangeFormatsAsPythonDoes) {
    mp::ShareableList sl{std::int64_t{1}, "abcdefghij", 2.5};
    EXPECT_EQ(sl.format(), "q16sd");
    sl.set(0, "abcdefgh");  // a str fills a number's whole 8-byte slot
    EXPECT_EQ(sl.format(), "8s16sd");
    sl.set(1, std::int64_t{5});
    EXPECT_EQ(sl.format(), "8sqd");
    sl.set(1, Bytes{"0123456789abcdef"});  // the slot keeps its 16 bytes
    EXPECT_EQ(sl.format(), "8s16sd");
    sl.set(2, None{});
    sl.set(0, false);
    EXPECT_EQ(sl.format(), "xxxxxxx?16sxxxxxx?x");
    EXPECT_EQ(sl[0], ListItem{false});
    EXPECT_EQ(sl[1], ListItem{Bytes{"0123456789abcdef"}});
    EXPECT_EQ(sl[2], ListItem{None{}});
}

TEST(ShareableList, TooLongAssignmentFailsAndChangesNothing) {
    mp::ShareableList sl{"ab", std::int64_t{1}, Bytes{"xyz"}};
    const std::string before = hex(sl.shm().buf());
    expect_error<std::invalid_argument>([&] { sl.set(0, "abcdefghi"); },
                                        {sl.name(), "bytes/str item exceeds available storage"});
    expect_error<std::invalid_argument>([&] { sl[1] = Bytes{"123456789"}; },
                                        {"bytes/str item exceeds available storage"});
    expect_error<std::invalid_argument>([&] { sl.set(2, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3"); },
                                        {"UTF-8"});
    EXPECT_EQ(hex(sl.shm().buf()), before);
    sl.set(0, "abcdefgh");  // exactly the slot fits
    EXPECT_EQ(sl[0], ListItem{"abcdefgh"});
}

TEST(ShareableList, TrailingNulsAreStrippedAsInPython) {
    mp::ShareableList sl{std::string("a\0b\0", 4), Bytes{std::string("\0x\0\0", 4)}};
    EXPECT_EQ(sl[0], ListItem{std::string("a\0b", 3)});
    EXPECT_EQ(sl[1], ListItem{Bytes{std::string("\0x", 2)}});
}

TEST(ShareableList, CountAndIndexCompareAsPythonDoes) {
    const mp::ShareableList sl{std::int64_t{1}, 1.0,   true, "a",         Bytes{"a"}, None{},
                               std::int64_t{0}, false, 2.5,  std::nan("")};
    EXPECT_EQ(sl.count(std::int64_t{1}), 3U);  // 1 == 1.0 == True
    EXPECT_EQ(sl.count(true), 3U);
    EXPECT_EQ(sl.count(0.0), 2U);
    EXPECT_EQ(sl.count(None{}), 1U);
    EXPECT_EQ(sl.count("a"), 1U);
    EXPECT_EQ(sl.count(Bytes{"a"}), 1U);
    EXPECT_EQ(sl.count(std::nan("")), 0U);
    EXPECT_EQ(sl.index(1.0), 0U);
    EXPECT_EQ(sl.index(false), 6U);
    EXPECT_EQ(sl.index(Bytes{"a"}), 4U);
    EXPECT_EQ(sl.index(2.5), 8U);
    expect_error<std::invalid_argument>([&] { (void)sl.index("it's"); },
                                        {sl.name(), "\"it's\" not in this container"});
    expect_error<std::invalid_argument>([&] { (void)sl.index(Bytes{"b"}); },
                                        {"b'b' not in this container"});
    // Exact, as Python compares int with float: 2**53 + 1 != 2.0**53.
    const mp::ShareableList big{std::int64_t{(std::int64_t{1} << 53) + 1}};
    EXPECT_EQ(big.count(9007199254740992.0), 0U);
    EXPECT_EQ(big.count(std::int64_t{(std::int64_t{1} << 53) + 1}), 1U);
    const mp::ShareableList extreme{int64_min};
    EXPECT_EQ(extreme.count(-9223372036854775808.0), 1U);
    EXPECT_EQ(extreme.count(9223372036854775808.0), 0U);
}

TEST(ShareableList, PrintsLikePythonsRepr) {
    const mp::ShareableList sl{std::int64_t{1}, 2.5, "a", Bytes{"x"}, None{}, true};
    EXPECT_EQ(repr(sl), "ShareableList([1, 2.5, 'a', b'x', None, True], name='" + sl.name() + "')");
    const mp::ShareableList quoting{"it's",
                                    "say \"hi\"",
                                    "'\"",
                                    "\t\n\\\x01\x7f",
                                    "\xc2\xa0\xe2\x80\x8b",
                                    "\xf0\x9f\x98\x80\xc3\xa9",
                                    Bytes{"it's\xff"},
                                    1e16,
                                    0.1,
                                    -0.0};
    EXPECT_EQ(
        repr(quoting),
        "ShareableList([\"it's\", 'say \"hi\"', '\\'\"', '\\t\\n\\\\\\x01\\x7f', "
        "'\\xa0\\u200b', '\xf0\x9f\x98\x80\xc3\xa9', b\"it's\\xff\", 1e+16, 0.1, -0.0], name='" +
            quoting.name() + "')");
    const mp::ShareableList empty{};
    EXPECT_EQ(repr(empty), "ShareableList([], name='" + empty.name() + "')");
    EXPECT_EQ(empty.size(), 0U);
    EXPECT_EQ(empty.format(), "");
}

TEST(ShareableList, AttachesByNameAndSharesItems) {
    const std::string name = unique_name("named");
    mp::ShareableList creator({std::int64_t{1}, "two", 3.0}, {.name = name});
    EXPECT_EQ(creator.name(), name);
    auto attached = mp::ShareableList::attach(name);
    EXPECT_EQ(attached.size(), 3U);
    EXPECT_EQ(attached.format(), "q8sd");
    attached[1] = "deux";
    EXPECT_EQ(creator[1], ListItem{"deux"});
    creator.set(2, Bytes{"3"});
    EXPECT_EQ(attached[2], ListItem{Bytes{"3"}});
    const mp::ShareableList by_constructor(name);
    EXPECT_EQ(by_constructor[0], ListItem{std::int64_t{1}});
}

// POSIX only: unlink (a Win32 section goes with its last handle) and
// fork()ed children.
#if !defined(_WIN32)
TEST(ShareableList, CreatorUnlinksUnlessUntracked) {
    std::string name;
    {
        const mp::ShareableList sl{std::int64_t{1}};
        name = sl.name();
        {
            const mp::ShareableList attached(name);  // an attacher never unlinks
        }
        EXPECT_TRUE(segment_exists(name));
    }
    EXPECT_FALSE(segment_exists(name));
    EXPECT_THROW(mp::ShareableList::attach(name), mp::FileNotFoundError);

    const std::string kept = unique_name("untracked");
    SegmentCleanup cleanup(kept);
    { const mp::ShareableList sl({"kept"}, {.name = kept, .track = false}); }
    ASSERT_TRUE(segment_exists(kept));
    auto later = mp::ShareableList::attach(kept);
    EXPECT_EQ(later[0], ListItem{"kept"});
    later.shm().unlink();
    EXPECT_FALSE(segment_exists(kept));
}

TEST(ShareableList, ForkedChildAttachesByNameAndModifies) {
    mp::ShareableList sl{std::int64_t{1}, "abc", None{}};
    const std::string name = sl.name();
    const int status = run_in_child([&] {
        mp::ShareableList child(name);
        if (child.size() != 3 || child[1] != ListItem{"abc"}) return 2;
        child[1] = "child";
        child.set(2, 3.5);
        child.set(0, child.count(3.5) == 1 ? std::int64_t{42} : std::int64_t{-1});
        return 0;
    });
    ASSERT_EQ(exit_code(status), 0);
    EXPECT_EQ(sl[0], ListItem{std::int64_t{42}});
    EXPECT_EQ(sl[1], ListItem{"child"});
    EXPECT_EQ(sl[2], ListItem{3.5});
    EXPECT_TRUE(segment_exists(name));
}
#endif  // !defined(_WIN32)

#if defined(_WIN32)
namespace {

// The Windows counterpart of ForkedChildAttachesByNameAndModifies: a child
// started by spawn attaches by name.
void attach_and_modify(std::string name) {
    mp::ShareableList child(name);
    if (child.size() != 3 || child[1] != ListItem{"abc"}) {
        throw std::runtime_error("the child saw another list: " + repr(child));
    }
    child[1] = "child";
    child.set(2, 3.5);
    child.set(0, child.count(3.5) == 1 ? std::int64_t{42} : std::int64_t{-1});
}

}  // namespace

TEST(ShareableList, SpawnedChildAttachesByNameAndModifies) {
    mp::ShareableList sl{std::int64_t{1}, "abc", None{}};
    mp::Process child(attach_and_modify, sl.name());
    child.start();
    child.join();
    ASSERT_EQ(child.exitcode(), 0);
    EXPECT_EQ(sl[0], ListItem{std::int64_t{42}});
    EXPECT_EQ(sl[1], ListItem{"child"});
    EXPECT_EQ(sl[2], ListItem{3.5});
}
#endif  // defined(_WIN32)

// ---- damaged or foreign segments --------------------------------------------

TEST(ShareableList, AttachingToWhatIsNotAListFails) {
    const auto attach_to = [](std::size_t size, const std::vector<std::int64_t>& words) {
        mp::SharedMemory shm({.create = true, .size = size});
        for (std::size_t k = 0; k < words.size(); ++k) store_i64(shm.buf(), 8 * k, words[k]);
        expect_error<mp::CorruptSegmentError>([&] { mp::ShareableList sl(shm.name()); },
                                              {shm.name()});
    };
    attach_to(64, {-1, 0});             // a negative length
    attach_to(64, {1000, 0});           // more offsets than bytes
    attach_to(64, {int64_max, 0});      // a length that overflows
    attach_to(128, {2, 0, 16, 8});      // offsets that go backwards
    attach_to(128, {1, -8, 8});         // a negative offset
    attach_to(128, {1, 0, int64_max});  // data that overflows
    // These depend on the segment's exact size: a Win32 attacher sees whole
    // pages (as Python's does on Windows), so they are POSIX only there.
#if !defined(_WIN32)
    attach_to(8, {0});             // too small for the length and one offset
    attach_to(128, {1, 0, 1000});  // data past the end
    attach_to(40, {1, 0, 8});      // no room for the one back-transform code
#else
    attach_to(4096, {1, 0, 8192});  // data past the end of the page
#endif
    mp::SharedMemory fits({.create = true, .size = 41});  // ... which 41 bytes have
    store_i64(fits.buf(), 0, 1);
    store_i64(fits.buf(), 16, 8);
    std::memcpy(fits.buf().data() + 32, "q", 1);
    const mp::ShareableList sl(fits.name());
    EXPECT_EQ(sl[0], ListItem{std::int64_t{0}});
}

TEST(ShareableList, DamagedItemsFailToReadInsteadOfReadingOutOfBounds) {
    mp::ShareableList sl{std::int64_t{1}, "abc"};
    const auto buf = sl.shm().buf();
    const std::string name = sl.name();

    store_format(buf, 1, "9999999s");  // reaches past the end
    expect_error<mp::CorruptSegmentError>([&] { (void)std::as_const(sl)[1]; },
                                          {name, "item 1", "past the end"});
    EXPECT_THROW((void)sl.count(std::int64_t{1}), mp::CorruptSegmentError);
    EXPECT_EQ(sl.format(), "q9999999s");
    // Writing with a format that does not match the slot would spill over.
    expect_error<mp::CorruptSegmentError>([&] { sl.set(1, "x"); }, {name, "9999999s"});
    store_format(buf, 1, "4s");
    expect_error<mp::CorruptSegmentError>([&] { sl.set(1, "x"); }, {name, "4s"});
    store_format(buf, 1, "8s");
    EXPECT_EQ(sl[1], ListItem{"abc"});

    store_format(buf, 0, "zz");
    expect_error<mp::CorruptSegmentError>([&] { (void)std::as_const(sl)[0]; },
                                          {name, "item 0", "unknown format b'zz'"});
    store_format(buf, 0, "q");
    buf[codes_start(buf)] = std::byte{7};
    expect_error<mp::CorruptSegmentError>([&] { (void)std::as_const(sl)[0]; },
                                          {name, "back-transform code 7"});
    buf[codes_start(buf)] = std::byte{1};  // a str whose format is "q"
    EXPECT_THROW((void)std::as_const(sl)[0], mp::CorruptSegmentError);
    buf[codes_start(buf)] = std::byte{0};
    EXPECT_EQ(sl[0], ListItem{std::int64_t{1}});

    std::memcpy(buf.data() + 24 + 8 + 8, "\xc3(", 2);  // item 1's data: not UTF-8
    expect_error<mp::CorruptSegmentError>([&] { (void)std::as_const(sl)[1]; },
                                          {name, "item 1", "UTF-8"});
    buf[codes_start(buf) + 1] = std::byte{2};  // the same bytes as bytes are fine
    EXPECT_EQ(sl[1], ListItem{Bytes{"\xc3(c"}});
    buf[codes_start(buf) + 1] = std::byte{0};  // as Python: raw bytes, NULs and all
    EXPECT_EQ(sl[1], ListItem{Bytes{std::string("\xc3(c\0\0\0\0\0", 8)}});
}

TEST(ShareableList, UseAfterCloseIsAnError) {
    mp::ShareableList sl{std::int64_t{1}};
    sl.shm().close();
    EXPECT_THROW((void)std::as_const(sl)[0], mp::ClosedError);
    EXPECT_THROW(sl.set(0, std::int64_t{2}), mp::ClosedError);
}

// ---- CPython on the same host -----------------------------------------------
// POSIX only: there is no CPython under Wine.
#if !defined(_WIN32)

TEST(ShareableListPython, CppCreatesPythonAttachesReadsAndWrites) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    mp::ShareableList sl(every_type());
    const auto result = run_python(*python,
                                   attach_py + "expected = " + every_type_py +
                                       "\n"
                                       "print(repr(list(sl)) == repr(expected), sl.format)\n"
                                       "sl[0] = 42\n"
                                       "sl[6] = 1.5\n"
                                       "sl[7] = 'from py'\n"
                                       "sl[11] = b'py\\xff'\n"
                                       "sl[4] = False\n"
                                       "sl[8] = None\n"
                                       "sl.shm.close()\n",
                                   {sl.name()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, std::string("True ") + every_type_format + "\n");
    EXPECT_EQ(sl[0], ListItem{std::int64_t{42}});
    EXPECT_EQ(sl[6], ListItem{1.5});
    EXPECT_EQ(sl[7], ListItem{"from py"});
    EXPECT_EQ(sl[11], ListItem{Bytes{"py\xff"}});
    EXPECT_EQ(sl[4], ListItem{false});
    EXPECT_EQ(sl[8], ListItem{None{}});
    EXPECT_EQ(sl.format(), "qqddxxxxxxx?xxxxxxx?d8sxxxxxx?x16s8s8s8s16sqq");
    EXPECT_TRUE(segment_exists(sl.name()));
}

TEST(ShareableListPython, PythonCreatesCppAttachesReadsAndWrites) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const std::string name = unique_name("py_list");
    SegmentCleanup cleanup(name);
    const auto created =
        run_python(*python,
                   std::string("import sys\n"
                               "from multiprocessing import shared_memory, resource_tracker\n"
                               "sl = shared_memory.ShareableList(") +
                       every_type_py +
                       ", name=sys.argv[1])\n"
                       "resource_tracker.unregister(sl.shm._name, 'shared_memory')\n"
                       "print(sl.format)\n"
                       "sl.shm.close()\n",
                   {name});
    ASSERT_EQ(created.exit_code, 0) << created.err;
    EXPECT_EQ(created.out, std::string(every_type_format) + "\n");
    {
        auto sl = mp::ShareableList::attach(name);
        const auto items = every_type();
        ASSERT_EQ(sl.size(), items.size());
        for (std::size_t i = 0; i < items.size(); ++i) {
            EXPECT_EQ(sl[static_cast<long>(i)], items[i]) << "item " << i;
        }
        EXPECT_EQ(sl.format(), every_type_format);
        sl[0] = -42;
        sl[2] = "cpp";
        sl[9] = "\xc3\xa9t\xc3\xa9";
        sl[12] = Bytes{std::string("\x00\x01\x02", 3)};
        sl[6] = int64_min;
        sl[14] = 0.25;
    }
    ASSERT_TRUE(segment_exists(name)) << "an attacher must never unlink";
    const auto read_back = run_python(*python,
                                      attach_py +
                                          "print(list(sl))\n"
                                          "print(sl.format)\n"
                                          "sl.shm.close()\n"
                                          "sl.shm.unlink()\n",
                                      {name});
    ASSERT_EQ(read_back.exit_code, 0) << read_back.err;
    EXPECT_EQ(
        read_back.out,
        "[-42, -1, 'cpp', -0.0, True, False, -9223372036854775808, '', 'abc', "
        "'\xc3\xa9t\xc3\xa9', '\xc3\xa9\xc3\xa9\xc3\xa9', b'', b'\\x00\\x01\\x02', b'12345678', "
        "0.25, -9223372036854775808]\n"
        "qq8sdxxxxxxx?xxxxxxx?q8s8s16s8s8s8s16sdq\n");
    EXPECT_FALSE(segment_exists(name));
}

TEST(ShareableListPython, TooLongStrFailsTheSameWayOnBothSides) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    mp::ShareableList sl{"ab", std::int64_t{1}};
    const std::string before = hex(sl.shm().buf());
    expect_error<std::invalid_argument>([&] { sl.set(0, "abcdefghi"); },
                                        {"bytes/str item exceeds available storage"});
    expect_error<std::invalid_argument>([&] { sl.set(1, Bytes{"abcdefghi"}); },
                                        {"bytes/str item exceeds available storage"});
    const auto result = run_python(*python,
                                   attach_py +
                                       "for i, v in ((0, 'abcdefghi'), (1, b'abcdefghi')):\n"
                                       "    try:\n"
                                       "        sl[i] = v\n"
                                       "    except ValueError as e:\n"
                                       "        print(type(e).__name__, e)\n"
                                       "print(list(sl), sl.format)\n"
                                       "sl.shm.close()\n",
                                   {sl.name()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out,
              "ValueError bytes/str item exceeds available storage\n"
              "ValueError bytes/str item exceeds available storage\n"
              "['ab', 1] 8sq\n");
    EXPECT_EQ(hex(sl.shm().buf()), before);
}

TEST(ShareableListPython, RawBytesEqualPythons) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    // The same list made and then changed the same way on both sides.
    const auto result = run_python(*python,
                                   std::string("from multiprocessing import shared_memory\n"
                                               "sl = shared_memory.ShareableList(") +
                                       every_type_py +
                                       ")\n"
                                       "print(sl.shm.size, bytes(sl.shm.buf).hex())\n"
                                       "sl[0] = 'abc'\n"
                                       "sl[9] = 7\n"
                                       "sl[9] = b'xy'\n"
                                       "sl[13] = 'z'\n"
                                       "sl[6] = True\n"
                                       "sl[4] = None\n"
                                       "sl[2] = -2**63\n"
                                       "sl[14] = 1e-300\n"
                                       "print(sl.shm.size, bytes(sl.shm.buf).hex())\n"
                                       "sl.shm.close()\n"
                                       "sl.shm.unlink()\n",
                                   {});
    ASSERT_EQ(result.exit_code, 0) << result.err;

    mp::ShareableList sl(every_type());
    std::string expected = std::to_string(sl.shm().size()) + " " + hex(sl.shm().buf()) + "\n";
    sl[0] = "abc";
    sl[9] = 7;
    sl[9] = Bytes{"xy"};
    sl[13] = "z";
    sl[6] = true;
    sl[4] = None{};
    sl[2] = int64_min;
    sl[14] = 1e-300;
    expected += std::to_string(sl.shm().size()) + " " + hex(sl.shm().buf()) + "\n";
    EXPECT_EQ(result.out, expected);
}

TEST(ShareableListPython, PrintsExactlyAsPythonsRepr) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const mp::ShareableList sl{"it's",
                               "say \"hi\"",
                               "both ' and \"",
                               "tab\tnl\nbs\\cr\r",
                               "\x01\x7f",
                               "\xc3\xa9",          // é
                               "\xc2\xa0",          // no-break space
                               "\xe2\x80\x8b",      // zero-width space
                               "\xf0\x9f\x98\x80",  // an emoji
                               "\xc2\x85",          // a C1 control
                               "\xef\xbf\xbf",      // a noncharacter
                               "\xf3\xa0\x80\x81",  // U+E0001, a format character
                               Bytes{"b'q"},
                               Bytes{std::string("\0\xff\"'", 4)},
                               Bytes{"\t\\"},
                               0.1,
                               1e16,
                               1e-05,
                               123456789.0,
                               -0.0,
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               std::nan(""),
                               int64_min,
                               true,
                               false,
                               None{}};
    const char* literal =
        "[\"it's\", 'say \"hi\"', 'both \\' and \"', 'tab\\tnl\\nbs\\\\cr\\r', '\\x01\\x7f', "
        "'\\u00e9', '\\u00a0', '\\u200b', '\\U0001f600', '\\x85', '\\uffff', '\\U000e0001', "
        "b\"b'q\", "
        "b'\\x00\\xff\"\\'', b'\\t\\\\', 0.1, 1e16, 1e-05, 123456789.0, -0.0, float('inf'), "
        "float('-inf'), float('nan'), -2**63, True, False, None]";
    const auto result = run_python(*python,
                                   attach_py +
                                       "print(repr(sl))\n"
                                       "sl.shm.close()\n"
                                       "own = shared_memory.ShareableList(" +
                                       literal +
                                       ")\n"
                                       "print(repr(own).replace(own.shm.name, sys.argv[1]))\n"
                                       "own.shm.close()\n"
                                       "own.shm.unlink()\n",
                                   {sl.name()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const std::string ours = repr(sl);
    EXPECT_EQ(result.out, ours + "\n" + ours + "\n");
}

TEST(ShareableListPython, CountAndIndexAgreeWithPython) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const mp::ShareableList sl{std::int64_t{1}, 1.0,   true, "a",  Bytes{"a"}, None{},
                               std::int64_t{0}, false, 2.5,  -0.0, "",         Bytes{}};
    const std::vector<std::pair<ListItem, const char*>> probes{
        {std::int64_t{1}, "1"}, {true, "True"},   {0.0, "0.0"},
        {false, "False"},       {None{}, "None"}, {"a", "'a'"},
        {Bytes{"a"}, "b'a'"},   {2.5, "2.5"},     {"", "''"},
        {Bytes{}, "b''"},       {"zz", "'zz'"}};
    std::string script = attach_py + "for v in (";
    std::string expected;
    for (const auto& [value, py] : probes) {
        script += std::string(py) + ", ";
        expected += std::to_string(sl.count(value)) + " ";
        try {
            expected += std::to_string(sl.index(value)) + "\n";
        } catch (const std::invalid_argument& e) {
            const std::string what = e.what();
            expected += what.substr(what.rfind(": ") + 2) + "\n";
        }
    }
    script +=
        "):\n"
        "    try:\n"
        "        print(sl.count(v), sl.index(v))\n"
        "    except ValueError as e:\n"
        "        print(sl.count(v), e)\n"
        "sl.shm.close()\n";
    const auto result = run_python(*python, script, {sl.name()});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, expected);
}
#endif  // !defined(_WIN32)
