// Tests for mpshm/shared_memory.hpp: Python's SharedMemory, with stricter
// ownership, exercised across real processes and against CPython itself.
// SPDX-License-Identifier: MIT
#if !defined(_WIN32)  // for the POSIX-only tests: /dev/shm, shm_open, uids
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cstring>
#include <optional>
#include <regex>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>
#include <mpshm/shared_memory.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using mpshm_test::expect_error;
using mpshm_test::unique_name;
#if !defined(_WIN32)  // POSIX-only helpers: fork(), /dev/shm
using mpshm_test::exit_code;
using mpshm_test::run_in_child;
using mpshm_test::segment_exists;
using mpshm_test::SegmentCleanup;
#endif

namespace {

void write_text(std::span<std::byte> buf, std::size_t at, const std::string& text) {
    std::memcpy(buf.data() + at, text.data(), text.size());
}

std::string read_text(std::span<const std::byte> buf, std::size_t at, std::size_t n) {
    return {reinterpret_cast<const char*>(buf.data() + at), n};
}

// POSIX only: segments as files in /dev/shm, their modes and owners.
#if !defined(_WIN32)
unsigned mode_of(const std::string& name) {
    struct stat st {};
    if (::stat(("/dev/shm/" + name).c_str(), &st) != 0) return 07777U;
    return st.st_mode & 0777U;
}

// A segment as the file system shows it, read without mpshm: which file it
// is, its owner, size and bytes.
struct RawSegment {
    ::ino_t inode = 0;
    ::uid_t owner = 0;
    ::off_t size = 0;
    std::string bytes;
    friend bool operator==(const RawSegment&, const RawSegment&) = default;
    friend void PrintTo(const RawSegment& s, std::ostream* os) {
        *os << "{inode " << s.inode << ", uid " << s.owner << ", size " << s.size << ", bytes "
            << testing::PrintToString(s.bytes) << '}';
    }
};

std::optional<RawSegment> raw_segment(const std::string& name) {
    const int fd = ::open(("/dev/shm/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    struct stat st {};
    std::optional<RawSegment> result;
    if (::fstat(fd, &st) == 0) {
        result = RawSegment{st.st_ino, st.st_uid, st.st_size, mpshm_test::read_all(fd)};
    }
    ::close(fd);
    return result;
}

// Makes NAME as a plain file holding TEXT, not through mpshm, with exactly MODE.
bool make_plain_segment(const std::string& name, const std::string& text, ::mode_t mode) {
    const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, mode);
    if (fd < 0) return false;
    const bool ok = ::fchmod(fd, mode) == 0 &&
                    ::write(fd, text.data(), text.size()) == static_cast<::ssize_t>(text.size());
    ::close(fd);
    return ok;
}

// The user a root test process can become to play another user.
constexpr ::uid_t nobody = 65534;

bool become_nobody() {
    return ::setgroups(0, nullptr) == 0 && ::setgid(nobody) == 0 && ::setuid(nobody) == 0;
}

// Another process has made NAME first (SQUATTED): creating NAME must fail
// with FileExistsError naming it, and leave the squatter's segment exactly
// as it was: the same file, owner, size and bytes.
void expect_create_refused_and_squatter_untouched(const std::string& name) {
    const auto before = raw_segment(name);
    ASSERT_TRUE(before) << "the squatter did not make " << name;
    ASSERT_GT(before->size, 0);
    expect_error<mp::FileExistsError>(
        [&] { mp::SharedMemory shm({.name = name, .create = true, .size = 16}); },
        {"'" + name + "'", "cannot create", "File exists"});
    expect_error<mp::FileExistsError>(
        [&] { mp::SharedMemory shm({.name = name, .create = true, .size = 1 << 20}); },
        {"'" + name + "'"});
    EXPECT_EQ(raw_segment(name), before) << "creating a taken name changed the squatter's segment";
}
#endif  // !defined(_WIN32)

}  // namespace

static_assert(!std::is_copy_constructible_v<mp::SharedMemory>);
static_assert(!std::is_copy_assignable_v<mp::SharedMemory>);
static_assert(std::is_nothrow_move_constructible_v<mp::SharedMemory>);
static_assert(std::is_nothrow_move_assignable_v<mp::SharedMemory>);

// POSIX only: psm_ names (Windows: wnsm_, see tests/win32/), files in /dev/shm,
// modes and the umask.
#if !defined(_WIN32)
TEST(SharedMemory, CreatesRandomPythonStyleNamesZeroFilled) {
    mp::SharedMemory a({.create = true, .size = 4096});
    mp::SharedMemory b({.create = true, .size = 100});
    const std::regex python_style("psm_[0-9a-f]{8}");
    EXPECT_TRUE(std::regex_match(a.name(), python_style)) << a.name();
    EXPECT_TRUE(std::regex_match(b.name(), python_style)) << b.name();
    EXPECT_NE(a.name(), b.name());
    EXPECT_EQ(a.size(), 4096U);
    EXPECT_EQ(a.buf().size(), 4096U);
    EXPECT_EQ(b.size(), 100U);
    EXPECT_TRUE(segment_exists(a.name()));
    const auto buf = a.buf();
    EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](std::byte x) { return x == std::byte{0}; }));
}

TEST(SharedMemory, CreatesMode0600WhateverTheUmask) {
    // 0277 takes the owner's write bit away: only the fchmod puts it back.
    for (const ::mode_t mask : {::mode_t{0}, ::mode_t{022}, ::mode_t{077}, ::mode_t{0277}}) {
        const ::mode_t old = ::umask(mask);
        mp::SharedMemory shm({.create = true, .size = 64});
        ::umask(old);
        EXPECT_EQ(mode_of(shm.name()), 0600U) << "umask " << mask;
    }
    mp::SharedMemory wider({.create = true, .size = 64, .mode = 0640});
    EXPECT_EQ(mode_of(wider.name()), 0640U);
}
#endif  // !defined(_WIN32)

TEST(SharedMemory, NamedCreateAndAttachShareTheSameBytes) {
    const std::string name = unique_name("share");
    mp::SharedMemory creator({.name = name, .create = true, .size = 64});
    EXPECT_EQ(creator.name(), name);
    mp::SharedMemory attached(name);
    EXPECT_EQ(attached.name(), name);
#if defined(_WIN32)  // an attacher sees whole pages, as Python's does on Windows
    EXPECT_GE(attached.size(), 64U);
#else
    EXPECT_EQ(attached.size(), 64U);
#endif
    write_text(creator.buf(), 0, "ping");
    EXPECT_EQ(read_text(attached.buf(), 0, 4), "ping");
    write_text(attached.buf(), 4, "pong");
    EXPECT_EQ(read_text(creator.buf(), 4, 4), "pong");
    // The options form attaches too, as Python's SharedMemory(name) does.
    mp::SharedMemory via_options({.name = name});
    EXPECT_EQ(read_text(via_options.buf(), 0, 8), "pingpong");
}

// POSIX only: fork()ed children, and unlink (a Win32 section has no name to
// unlink: it goes with its last handle; see tests/win32/ for both there).
#if !defined(_WIN32)

TEST(SharedMemory, ForkedChildAttachesByNameAndWrites) {
    const std::string name = unique_name("fork");
    mp::SharedMemory shm({.name = name, .create = true, .size = 32});
    const int status = run_in_child([&] {
        mp::SharedMemory child(name);
        if (child.size() != 32) return 2;
        write_text(child.buf(), 0, "from child");
        return 0;
    });
    ASSERT_EQ(exit_code(status), 0);
    EXPECT_EQ(read_text(shm.buf(), 0, 10), "from child");
}

TEST(SharedMemory, ForkedChildsCopyOfTheCreatorNeverUnlinks) {
    std::optional<mp::SharedMemory> shm(std::in_place,
                                        mp::SharedMemory::Options{.create = true, .size = 32});
    const std::string name = shm->name();
    ASSERT_TRUE(shm->owns_name());
    const int status = run_in_child([&] {
        const bool owned_in_child = shm->owns_name();
        shm.reset();  // the child's copy of the creator is destroyed here
        return owned_in_child ? 2 : 0;
    });
    ASSERT_EQ(exit_code(status), 0);
    EXPECT_TRUE(segment_exists(name));
    shm.reset();
    EXPECT_FALSE(segment_exists(name));
}

TEST(SharedMemory, CreatorDestructionRemovesTheName) {
    std::string name;
    {
        mp::SharedMemory shm({.create = true, .size = 16});
        name = shm.name();
        ASSERT_TRUE(segment_exists(name));
    }
    EXPECT_FALSE(segment_exists(name));
    EXPECT_THROW(mp::SharedMemory{name}, mp::FileNotFoundError);
}

TEST(SharedMemory, ACreatorNeverRemovesANameThatNowStandsForAnotherSegment) {
    const std::string name = unique_name("reused");
    SegmentCleanup cleanup(name);
    {
        mp::SharedMemory first({.name = name, .create = true, .size = 16});
        ::shm_unlink(("/" + name).c_str());  // someone else removes the name...
        mp::SharedMemory second(
            {.name = name, .create = true, .size = 32, .track = false});  // ...and reuses it
    }
    ASSERT_TRUE(segment_exists(name)) << "the first creator removed the second's segment";
    EXPECT_EQ(mp::SharedMemory(name).size(), 32U);
}

TEST(SharedMemory, AttacherDestructionKeepsTheName) {
    mp::SharedMemory creator({.create = true, .size = 16});
    {
        mp::SharedMemory attached(creator.name());
        EXPECT_FALSE(attached.owns_name());
    }
    EXPECT_TRUE(segment_exists(creator.name()));
    mp::SharedMemory again(creator.name());
    EXPECT_EQ(again.size(), 16U);
}

TEST(SharedMemory, UntrackedSegmentOutlivesItsCreator) {
    const std::string name = unique_name("untracked");
    SegmentCleanup cleanup(name);
    {
        mp::SharedMemory shm({.name = name, .create = true, .size = 16, .track = false});
        EXPECT_FALSE(shm.owns_name());
        write_text(shm.buf(), 0, "kept");
    }
    ASSERT_TRUE(segment_exists(name));
    mp::SharedMemory later(name);
    EXPECT_EQ(read_text(later.buf(), 0, 4), "kept");
    later.unlink();
    EXPECT_FALSE(segment_exists(name));
}

TEST(SharedMemory, CloseAndUnlinkAreIdempotent) {
    mp::SharedMemory shm({.create = true, .size = 16});
    const std::string name = shm.name();
    EXPECT_FALSE(shm.closed());
    shm.close();
    shm.close();
    EXPECT_TRUE(shm.closed());
    EXPECT_EQ(shm.name(), name);
    EXPECT_TRUE(segment_exists(name)) << "close() must not unlink";
    shm.unlink();
    EXPECT_FALSE(segment_exists(name));
    EXPECT_NO_THROW(shm.unlink());
}
#endif  // !defined(_WIN32)

TEST(SharedMemory, BufAfterCloseIsAnError) {
    mp::SharedMemory shm({.create = true, .size = 16});
    shm.close();
    expect_error<mp::ClosedError>([&] { (void)shm.buf(); }, {shm.name(), "closed"});
    const mp::SharedMemory& const_view = shm;
    EXPECT_THROW((void)const_view.buf(), mp::ClosedError);
}

// POSIX only: unlink, and the names it frees (Win32 sections go with their
// last handle).
#if !defined(_WIN32)

TEST(SharedMemory, UnlinkLeavesExistingMappingsUsable) {
    mp::SharedMemory shm({.create = true, .size = 16});
    mp::SharedMemory attached(shm.name());
    shm.unlink();
    EXPECT_FALSE(segment_exists(shm.name()));
    write_text(shm.buf(), 0, "still");
    EXPECT_EQ(read_text(attached.buf(), 0, 5), "still");
    EXPECT_FALSE(shm.owns_name());
}

TEST(SharedMemory, FirstUnlinkOfARemovedNameRaisesFileNotFound) {
    mp::SharedMemory creator({.create = true, .size = 16});
    mp::SharedMemory attached(creator.name());
    creator.unlink();
    expect_error<mp::FileNotFoundError>([&] { attached.unlink(); }, {creator.name(), "unlink"});
    EXPECT_NO_THROW(attached.unlink());
}

TEST(SharedMemory, MoveTransfersOwnership) {
    std::string name;
    {
        mp::SharedMemory outer({.create = true, .size = 16});
        name = outer.name();
        {
            mp::SharedMemory moved(std::move(outer));
            EXPECT_TRUE(moved.owns_name());
            EXPECT_FALSE(outer.owns_name());  // NOLINT(bugprone-use-after-move): checked on purpose
            mp::SharedMemory assigned({.create = true, .size = 8});
            const std::string replaced = assigned.name();
            assigned = std::move(moved);
            EXPECT_FALSE(segment_exists(replaced)) << "move-assignment releases the old segment";
            EXPECT_EQ(assigned.name(), name);
            EXPECT_TRUE(segment_exists(name));
        }
        EXPECT_FALSE(segment_exists(name));
    }
    EXPECT_FALSE(segment_exists(name));
}
#endif  // !defined(_WIN32)

TEST(SharedMemory, RejectsBadNames) {
    expect_error<std::invalid_argument>(
        [] { mp::SharedMemory shm({.name = "", .create = true, .size = 8}); }, {"empty"});
    expect_error<std::invalid_argument>([] { mp::SharedMemory shm(""); }, {"empty"});
    expect_error<std::invalid_argument>([] { mp::SharedMemory shm("a/b"); }, {"'a/b'", "'/'"});
    expect_error<std::invalid_argument>(
        [] { mp::SharedMemory shm({.name = "/leading", .create = true, .size = 8}); },
        {"'/leading'"});
#if !defined(_WIN32)  // NAME_MAX; Windows allows MAX_PATH
    const std::string too_long(256, 'x');
    expect_error<std::invalid_argument>([&] { mp::SharedMemory shm(too_long); }, {"limit", "255"});
#endif
    expect_error<std::invalid_argument>([] { mp::SharedMemory shm({.create = false}); },
                                        {"name is required"});
}

TEST(SharedMemory, RejectsZeroAndAbsurdSizes) {
    const std::string name = unique_name("size");
    expect_error<std::invalid_argument>(
        [&] { mp::SharedMemory shm({.name = name, .create = true, .size = 0}); },
        {name, "at least 1"});
    expect_error<std::invalid_argument>(
        [&] { mp::SharedMemory shm({.name = name, .create = true, .size = SIZE_MAX}); },
        {name, "larger"});
    // Accepted by ftruncate on tmpfs, refused by mmap: the half-made segment
    // must be removed, not leaked.
    EXPECT_THROW(mp::SharedMemory({.name = name, .create = true, .size = std::size_t{1} << 60U}),
                 mp::OSError);
#if !defined(_WIN32)  // a Win32 section goes with its last handle: none can be left
    EXPECT_FALSE(segment_exists(name));
#endif
}

TEST(SharedMemory, AttachingAMissingNameRaisesFileNotFound) {
    const std::string name = unique_name("missing");
    try {
        mp::SharedMemory shm(name);
        ADD_FAILURE() << "attached to a missing segment";
    } catch (const mp::FileNotFoundError& e) {
        EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
        const std::string what = e.what();
        EXPECT_NE(what.find("'" + name + "'"), std::string::npos) << what;
#if !defined(_WIN32)  // strerror's words; Win32 words it otherwise
        EXPECT_NE(what.find("No such file or directory"), std::string::npos) << what;
#endif
    }
}

TEST(SharedMemory, CreatingAnExistingNameRaisesFileExistsAndKeepsIt) {
    const std::string name = unique_name("exists");
    mp::SharedMemory first({.name = name, .create = true, .size = 16});
    write_text(first.buf(), 0, "first");
    expect_error<mp::FileExistsError>(
        [&] { mp::SharedMemory second({.name = name, .create = true, .size = 32}); },
#if defined(_WIN32)
        {"'" + name + "'"});  // Win32 words the error otherwise than strerror
#else
        {"'" + name + "'", "File exists"});
#endif
    mp::SharedMemory attached(name);
#if defined(_WIN32)  // an attacher sees whole pages, as Python's does on Windows
    EXPECT_GE(attached.size(), 16U);
#else
    EXPECT_EQ(attached.size(), 16U);
#endif
    EXPECT_EQ(read_text(attached.buf(), 0, 5), "first");
}

// POSIX only: fork()ed squatters, other users (uids), plain files in /dev/shm.
#if !defined(_WIN32)
TEST(SharedMemory, ANameAnotherProcessMadeWithAnotherSizeIsNotTakenOver) {
    const std::string name = unique_name("squat_mpshm");
    SegmentCleanup cleanup(name);
    const int status = run_in_child([&] {
        mp::SharedMemory shm({.name = name, .create = true, .size = 48, .track = false});
        write_text(shm.buf(), 0, "the squatter's bytes");
        return 0;
    });
    ASSERT_EQ(exit_code(status), 0);
    expect_create_refused_and_squatter_untouched(name);
    EXPECT_EQ(raw_segment(name).value_or(RawSegment{}).size, 48);
}

TEST(SharedMemory, ANameAnotherProcessMadeAsAPlainFileIsNotTakenOver) {
    const std::string name = unique_name("squat_plain");
    SegmentCleanup cleanup(name);
    const int status = run_in_child(
        [&] { return make_plain_segment(name, "not a segment at all", 0600) ? 0 : 1; });
    ASSERT_EQ(exit_code(status), 0);
    expect_create_refused_and_squatter_untouched(name);
    EXPECT_EQ(raw_segment(name).value_or(RawSegment{}).bytes, "not a segment at all");
}

TEST(SharedMemory, ANameAnotherUserMadeIsNotTakenOver) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to play another user (uid 65534)";
    const std::string name = unique_name("squat_user");
    SegmentCleanup cleanup(name);  // root may remove it from the sticky /dev/shm
    const int status = run_in_child([&] {
        if (!become_nobody()) return 2;
        return make_plain_segment(name, "nobody's bytes", 0666) ? 0 : 1;
    });
    ASSERT_EQ(exit_code(status), 0);
    ASSERT_EQ(raw_segment(name).value_or(RawSegment{}).owner, nobody);
    expect_create_refused_and_squatter_untouched(name);
}

TEST(SharedMemory, AttachingAnotherUsersSegmentIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root, to play another user (uid 65534)";
    const std::string name = unique_name("foreign");
    SegmentCleanup cleanup(name);  // only if the child fails to remove it
    // The child makes the segment as nobody with mode 0666, so that the OS
    // would let anyone in and only the owner check can refuse; it removes
    // the segment itself once the parent is done.
    mpshm_test::Pipe made;
    mpshm_test::Pipe done;
    const ::pid_t child = mpshm_test::start_child([&] {
        const bool ok = become_nobody() && make_plain_segment(name, "nobody's bytes", 0666);
        made.signal();  // in every case: the parent waits for it
        if (!ok) return 1;
        done.wait();
        return ::shm_unlink(("/" + name).c_str()) == 0 ? 0 : 2;
    });
    ASSERT_TRUE(made.wait());
    const auto raw = raw_segment(name);
    if (raw && raw->owner == nobody && raw->bytes == "nobody's bytes") {
        try {
            mp::SharedMemory shm(name);
            ADD_FAILURE() << "attached to a segment owned by uid 65534";
        } catch (const mp::PermissionError& e) {
            EXPECT_EQ(e.code(), std::errc::permission_denied);
            EXPECT_EQ(std::string(e.what()),
                      "mpshm: segment '" + name +
                          "': cannot attach: owned by uid 65534, not by this process's uid 0");
        }
        // Whoever really shares across users opts out of the check.
        const mp::SharedMemory shared({.name = name, .allow_foreign_owner = true});
        EXPECT_EQ(read_text(shared.buf(), 0, 14), "nobody's bytes");
    } else {
        ADD_FAILURE() << "the child did not make " << name << " as uid 65534";
    }
    done.signal();
    EXPECT_EQ(exit_code(mpshm_test::wait_child(child)), 0);
    EXPECT_FALSE(segment_exists(name)) << "the child did not remove its segment";
}

TEST(SharedMemory, AttachingAnEmptySegmentIsCorrupt) {
    const std::string name = unique_name("empty");
    SegmentCleanup cleanup(name);
    const int fd = ::shm_open(("/" + name).c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    ASSERT_GE(fd, 0);
    ::close(fd);
    expect_error<mp::CorruptSegmentError>([&] { mp::SharedMemory shm(name); }, {name, "empty"});
}
#endif  // !defined(_WIN32)

TEST(SharedMemory, PrintsLikePythonsRepr) {
    mp::SharedMemory shm({.create = true, .size = 24});
    std::ostringstream out;
    out << shm;
    EXPECT_EQ(out.str(), "SharedMemory('" + shm.name() + "', size=24)");
}

// ---- CPython on the same host ------------------------------------------------
// POSIX only: there is no CPython under Wine.
#if !defined(_WIN32)

// CPython makes NAME, 100 bytes starting with TEXT, and prints its name and
// size. Unregistered from CPython 3.11's resource tracker, which would
// otherwise unlink it when the interpreter exits.
static mpshm_test::CommandResult python_creates(const std::string& python, const std::string& name,
                                                const std::string& text) {
    return mpshm_test::run_command(
        {python, "-c",
         "import sys\n"
         "from multiprocessing import shared_memory, resource_tracker\n"
         "shm = shared_memory.SharedMemory(name=sys.argv[1], create=True, size=100)\n"
         "text = sys.argv[2].encode()\n"
         "shm.buf[:len(text)] = text\n"
         "resource_tracker.unregister(shm._name, 'shared_memory')\n"
         "print(shm.name, shm.size)\n"
         "shm.close()\n",
         name, text});
}

TEST(SharedMemoryPython, PythonCreatesAndCppAttaches) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const std::string name = unique_name("py_creates");
    SegmentCleanup cleanup(name);
    const auto created = python_creates(*python, name, "hello");
    ASSERT_EQ(created.exit_code, 0);
    EXPECT_EQ(created.out, name + " 100\n");

    {
        mp::SharedMemory shm(name);
        EXPECT_EQ(shm.size(), 100U);
        EXPECT_EQ(read_text(shm.buf(), 0, 5), "hello");
        write_text(shm.buf(), 5, " from C++");
    }
    ASSERT_TRUE(segment_exists(name)) << "an attacher must never unlink";

    const auto read_back =
        mpshm_test::run_command({*python, "-c",
                                 "import sys\n"
                                 "from multiprocessing import shared_memory\n"
                                 "shm = shared_memory.SharedMemory(name=sys.argv[1])\n"
                                 "print(bytes(shm.buf[:14]).decode())\n"
                                 "shm.close()\n"
                                 "shm.unlink()\n",
                                 name});
    ASSERT_EQ(read_back.exit_code, 0);
    EXPECT_EQ(read_back.out, "hello from C++\n");
    EXPECT_FALSE(segment_exists(name));
}

TEST(SharedMemoryPython, ANamePythonMadeIsNotTakenOver) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    const std::string name = unique_name("squat_py");
    SegmentCleanup cleanup(name);
    ASSERT_EQ(python_creates(*python, name, "python was here").exit_code, 0);
    expect_create_refused_and_squatter_untouched(name);
    EXPECT_EQ(raw_segment(name).value_or(RawSegment{}).bytes.substr(0, 15), "python was here");
}

TEST(SharedMemoryPython, CppCreatesAndPythonAttaches) {
    const auto python = mpshm_test::python3();
    if (!python) GTEST_SKIP() << "python3 not found";
    mp::SharedMemory shm({.create = true, .size = 4096});  // a random psm_ name
    write_text(shm.buf(), 0, "from C++");
    const auto result =
        mpshm_test::run_command({*python, "-c",
                                 "import sys\n"
                                 "from multiprocessing import shared_memory, resource_tracker\n"
                                 "shm = shared_memory.SharedMemory(name=sys.argv[1])\n"
                                 "print(shm.size, bytes(shm.buf[:8]).decode())\n"
                                 "shm.buf[8:16] = b' and Py!'\n"
                                 "resource_tracker.unregister(shm._name, 'shared_memory')\n"
                                 "shm.close()\n",
                                 shm.name()});
    ASSERT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, "4096 from C++\n");
    EXPECT_EQ(read_text(shm.buf(), 0, 16), "from C++ and Py!");
    EXPECT_TRUE(segment_exists(shm.name()));
}
#endif  // !defined(_WIN32)
