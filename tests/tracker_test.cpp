// Tests for mpshm/detail/posix/tracker.hpp: the tracker unlinks what a
// killed creator made, and nothing else.
// SPDX-License-Identifier: MIT
#include <sys/mman.h>
#include <sys/wait.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using namespace std::chrono_literals;
using mpshm_test::eventually;
using mpshm_test::segment_exists;
using mpshm_test::unique_name;

namespace {

// Starts a child that runs MAKE (which creates or attaches segments and
// keeps them: the objects are never destroyed) and then waits to be killed.
template <typename Make>
::pid_t child_keeping(Make make) {
    return mpshm_test::start_child_holding([make] { make(); });
}

// The tracker settles a dead creator's segments together, in the order
// they were registered: once SENTINEL (created last by the dead process)
// is gone, anything the tracker was going to remove for it is gone too.
void wait_for_tracker(const std::string& sentinel) {
    ASSERT_TRUE(eventually([&] { return !segment_exists(sentinel); }, 20s))
        << "the tracker never unlinked " << sentinel;
}

TEST(Tracker, UnlinksTheSegmentsOfAKilledCreator) {
    const std::string raw = unique_name("raw");
    const std::string value = unique_name("value");
    const std::string list = unique_name("list");
    const ::pid_t creator = child_keeping([&] {
        new mp::SharedMemory({.name = raw, .create = true, .size = 100});
        new mp::Value<int>(7, {.name = value});
        new mp::ShareableList({1, 2, 3}, {.name = list});
    });
    ASSERT_TRUE(segment_exists(raw) && segment_exists(value) && segment_exists(list));
    mpshm_test::kill_and_reap(creator);
    EXPECT_TRUE(eventually(
        [&] { return !segment_exists(raw) && !segment_exists(value) && !segment_exists(list); },
        20s))
        << "a SIGKILLed creator's segments were left in /dev/shm";
}

TEST(Tracker, UnlinksEveryOneOfManySegments) {
    constexpr int count = 300;
    const std::string prefix = unique_name("many");
    const ::pid_t creator = child_keeping([&] {
        for (int i = 0; i < count; ++i) {
            // Some made and unlinked again, so that slots are reused.
            if (i % 3 == 0) mp::Value<int> passing(i);
            new mp::Value<int>(i, {.name = prefix + std::to_string(i)});
        }
    });
    mpshm_test::kill_and_reap(creator);
    EXPECT_TRUE(eventually(
        [&] {
            for (int i = 0; i < count; ++i) {
                if (segment_exists(prefix + std::to_string(i))) return false;
            }
            return true;
        },
        20s))
        << "some of a killed creator's segments were left in /dev/shm";
}

TEST(Tracker, ForgetsWhatItsCreatorUnlinked) {
    // More segments made and unlinked than the tracker has room for: each
    // unlink must give its room back, or the last one goes untracked.
    const std::string last = unique_name("last");
    const ::pid_t creator = child_keeping([&] {
        for (std::uint32_t i = 0; i < mp::detail::os::tracker::Registry::capacity + 10; ++i) {
            const mp::SharedMemory passing({.create = true, .size = 1});
        }
        new mp::SharedMemory({.name = last, .create = true, .size = 1});
    });
    mpshm_test::kill_and_reap(creator);
    wait_for_tracker(last);
}

TEST(Tracker, UnlinksWhatACreatorLeftWhenItExited) {
    const std::string name = unique_name("leaked");
    const int status = mpshm_test::run_in_child([&] {
        new mp::Value<double>(1.5, {.name = name});  // never destroyed
        return 0;                                    // _exit: no destructors
    });
    ASSERT_EQ(mpshm_test::exit_code(status), 0);
    wait_for_tracker(name);
}

TEST(Tracker, NeverUnlinksWhatADeadProcessOnlyAttachedTo) {
    mp::SharedMemory shared({.create = true, .size = 64});
    mp::Value<int> value(5);
    const std::string sentinel = unique_name("sentinel");
    const ::pid_t attacher = child_keeping([&] {
        new mp::SharedMemory(shared.name());
        new mp::Value<int>(mp::Value<int>::attach(value.name()));
        new mp::SharedMemory({.name = sentinel, .create = true, .size = 1});
    });
    mpshm_test::kill_and_reap(attacher);
    wait_for_tracker(sentinel);
    EXPECT_TRUE(segment_exists(shared.name()));
    EXPECT_TRUE(segment_exists(value.name()));
    EXPECT_EQ(mp::Value<int>::attach(value.name()).load(), 5);
}

TEST(Tracker, LeavesUntrackedSegmentsAlone) {
    const std::string untracked = unique_name("untracked");
    const std::string sentinel = unique_name("sentinel");
    const ::pid_t creator = child_keeping([&] {
        new mp::Value<int>(3, {.name = untracked, .track = false});
        new mp::SharedMemory({.name = sentinel, .create = true, .size = 1});
    });
    mpshm_test::kill_and_reap(creator);
    wait_for_tracker(sentinel);
    EXPECT_TRUE(segment_exists(untracked));
    EXPECT_EQ(mp::Value<int>::attach(untracked).load(), 3);
    ::shm_unlink(("/" + untracked).c_str());
}

TEST(Tracker, LeavesANameMadeAgainBySomeoneElse) {
    const std::string name = unique_name("remade");
    const std::string sentinel = unique_name("sentinel");
    const ::pid_t creator = child_keeping([&] {
        new mp::SharedMemory({.name = name, .create = true, .size = 10});
        new mp::SharedMemory({.name = sentinel, .create = true, .size = 1});
    });
    // Someone removes the name behind mpshm's back and makes it again.
    ASSERT_EQ(::shm_unlink(("/" + name).c_str()), 0);
    mp::SharedMemory again({.name = name, .create = true, .size = 20});
    mpshm_test::kill_and_reap(creator);
    wait_for_tracker(sentinel);
    EXPECT_TRUE(segment_exists(name));
    EXPECT_EQ(mp::SharedMemory(name).size(), 20U);
}

TEST(Tracker, IsNoChildOfTheCreator) {
    // wait() in the program must not reap (or wait for) the tracker.
    const int status = mpshm_test::run_in_child([] {
        const mp::SharedMemory shm({.create = true, .size = 8});
        int ignored = 0;
        const ::pid_t reaped = ::waitpid(-1, &ignored, WNOHANG);
        return reaped == -1 && errno == ECHILD ? 0 : 1;
    });
    EXPECT_EQ(mpshm_test::exit_code(status), 0);
}

}  // namespace
