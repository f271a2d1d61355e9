// Tests for mpshm/shared_memory.hpp on Windows (run under Wine in CI): the
// behaviour tests/shared_memory_test.cpp checks on POSIX, with processes
// started by spawn. POSIX-only there, and why: unlink and the names it
// frees (a Win32 section has no name to remove: it goes with its last
// handle), modes and umask, other users' segments, fork()ed copies of a
// creator, and CPython beside the program (none under Wine).
// SPDX-License-Identifier: MIT
#include <cstring>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

namespace mp = mpshm;

namespace {

std::string unique_name(const std::string& tag) {
    static int counter = 0;
    return "mpshm_test_" + std::to_string(mp::detail::os::current_pid()) + "_" +
           std::to_string(counter++) + "_" + tag;
}

void write_greeting(mp::SharedMemory& shm, std::string text) {
    std::memcpy(shm.buf().data(), text.data(), text.size());
}

void attach_and_write(std::string name, std::string text) {
    mp::SharedMemory shm(name);
    std::memcpy(shm.buf().data(), text.data(), text.size());
}

TEST(SharedMemoryWin32, RandomNamesArePythonsWnsm) {
    const mp::SharedMemory shm({.create = true, .size = 10});
    EXPECT_EQ(shm.name().rfind("wnsm_", 0), 0U) << shm.name();
    EXPECT_EQ(shm.name().size(), 13U) << shm.name();  // wnsm_ and 8 hex digits, as Python
    EXPECT_GE(shm.size(), 10U);
    for (const std::byte b : shm.buf()) ASSERT_EQ(b, std::byte{0});
}

TEST(SharedMemoryWin32, NamedCreateAndAttachShareTheSameBytes) {
    const std::string name = unique_name("share");
    mp::SharedMemory creator({.name = name, .create = true, .size = 64});
    mp::SharedMemory attacher(name);
    creator.buf()[3] = std::byte{42};
    EXPECT_EQ(attacher.buf()[3], std::byte{42});
}

TEST(SharedMemoryWin32, ASpawnedChildWritesThroughTheSegmentPassedToIt) {
    mp::SharedMemory shm({.create = true, .size = 64});
    mp::Process p(write_greeting, shm, std::string("hello from a child"));
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 18),
              "hello from a child");
}

TEST(SharedMemoryWin32, ASpawnedChildAttachesByName) {
    const std::string name = unique_name("byname");
    mp::SharedMemory shm({.name = name, .create = true, .size = 64});
    mp::Process p(attach_and_write, name, std::string("by name"));
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), 0);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(shm.buf().data()), 7), "by name");
}

TEST(SharedMemoryWin32, TheSegmentGoesWithItsLastHandle) {
    const std::string name = unique_name("last");
    {
        const mp::SharedMemory shm({.name = name, .create = true, .size = 8});
        const mp::SharedMemory again(name);
    }
    EXPECT_THROW(mp::SharedMemory{name}, mp::FileNotFoundError);
}

TEST(SharedMemoryWin32, CreatingAnExistingNameRaisesFileExistsAndKeepsIt) {
    const std::string name = unique_name("exists");
    mp::SharedMemory first({.name = name, .create = true, .size = 16});
    first.buf()[0] = std::byte{7};
    try {
        mp::SharedMemory second({.name = name, .create = true, .size = 16});
        FAIL() << "a second create of " << name << " succeeded";
    } catch (const mp::FileExistsError& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
    EXPECT_EQ(mp::SharedMemory(name).buf()[0], std::byte{7});
}

TEST(SharedMemoryWin32, AttachingAMissingNameRaisesFileNotFound) {
    const std::string name = unique_name("missing");
    try {
        mp::SharedMemory shm(name);
        FAIL() << "attached to " << name << ", which does not exist";
    } catch (const mp::FileNotFoundError& e) {
        EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
}

TEST(SharedMemoryWin32, RejectsBadNamesAndSizes) {
    EXPECT_THROW(mp::SharedMemory(mp::SharedMemory::Options{.name = "", .create = true, .size = 1}),
                 std::invalid_argument);
    EXPECT_THROW(
        mp::SharedMemory(mp::SharedMemory::Options{.name = "a\\b", .create = true, .size = 1}),
        std::invalid_argument);
    EXPECT_THROW(mp::SharedMemory(mp::SharedMemory::Options{.create = true, .size = 0}),
                 std::invalid_argument);
}

TEST(SharedMemoryWin32, BufAfterCloseIsAnErrorAndCloseIsIdempotent) {
    mp::SharedMemory shm({.create = true, .size = 4});
    shm.close();
    shm.close();
    EXPECT_TRUE(shm.closed());
    EXPECT_THROW((void)shm.buf(), mp::ClosedError);
}

TEST(SharedMemoryWin32, PrintsLikePythonsRepr) {
    const mp::SharedMemory shm({.create = true, .size = 4096});
    std::ostringstream out;
    out << shm;
    EXPECT_EQ(out.str(), "SharedMemory('" + shm.name() + "', size=4096)");
}

TEST(ShareableListWin32, AttachingByNameSeesTheSameItems) {
    mp::ShareableList list({1, 2.5, "three"});
    EXPECT_EQ(list.size(), 3U);
    mp::ShareableList again(list.shm().name());
    std::ostringstream out;
    out << again;
    std::ostringstream expected;
    expected << list;
    EXPECT_EQ(out.str(), expected.str());
}

}  // namespace
