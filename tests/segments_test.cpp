// Tests for mpshm/segments.hpp and the mpshm-segments tool: listing
// segments and removing what dead creators left.
// SPDX-License-Identifier: MIT
#include <stdlib.h>
#include <sys/mman.h>

#include <algorithm>
#include <optional>
#include <string>

#include <gtest/gtest.h>
#include <mpshm/mpshm.hpp>

#include "support/test_support.hpp"

namespace mp = mpshm;
using mpshm_test::contains;
using mpshm_test::segment_exists;
using mpshm_test::unique_name;

namespace {

std::optional<mp::SegmentInfo> find(const std::vector<mp::SegmentInfo>& all,
                                    const std::string& name) {
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const mp::SegmentInfo& s) { return s.name == name; });
    if (it == all.end()) return std::nullopt;
    return *it;
}

// A child that creates a tracked Value with the tracker turned off and is
// then killed: what a creator leaves when its tracker died with it.
std::string left_by_a_dead_creator() {
    const std::string name = unique_name("orphan");
    const ::pid_t pid = mpshm_test::start_child_holding([name] {
        ::setenv("MPSHM_TRACKER", "0", 1);
        new mp::Value<long>(42, {.name = name});
    });
    mpshm_test::kill_and_reap(pid);
    return name;
}

TEST(Segments, ListsObjectsWithKindTypeAndCreator) {
    mp::Value<int> value(1);
    mp::Array<double, 7> array;
    mp::Lock lock;
    mp::Value<int> untracked(2, {.track = false});
    mp::SharedMemory raw({.create = true, .size = 333});
    const mp::SharedMemory named({.name = unique_name("named"), .create = true, .size = 5});

    const auto all = mp::list_segments();
    const auto v = find(all, value.name());
    ASSERT_TRUE(v);
    EXPECT_EQ(v->kind, "Value");
    EXPECT_TRUE(contains(v->type, "int")) << v->type;
    EXPECT_EQ(v->creator_pid, ::getpid());
    EXPECT_EQ(v->creator, mp::SegmentInfo::Creator::alive);
    EXPECT_TRUE(v->tracked);
    EXPECT_EQ(v->mode, 0600U);
    EXPECT_EQ(v->uid, ::geteuid());

    const auto a = find(all, array.name());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->kind, "Array");
    EXPECT_TRUE(contains(a->type, "double")) << a->type;
    EXPECT_TRUE(contains(a->type, "[7]")) << a->type;
    EXPECT_EQ(find(all, lock.name())->kind, "Lock");
    EXPECT_FALSE(find(all, untracked.name())->tracked);

    const auto r = find(all, raw.name());  // a random psm_ name: listed, as raw
    ASSERT_TRUE(r);
    EXPECT_EQ(r->kind, "raw");
    EXPECT_EQ(r->size, 333U);
    EXPECT_FALSE(r->creator_pid);
    EXPECT_EQ(r->creator, mp::SegmentInfo::Creator::unknown);

    // A raw segment with a name of its own is anyone's: listed only with --all.
    EXPECT_FALSE(find(all, named.name()));
    EXPECT_TRUE(find(mp::list_segments(true), named.name()));
    ::shm_unlink(("/" + untracked.name()).c_str());
}

TEST(Segments, RemovesOnlyWhatDeadCreatorsLeft) {
    const std::string orphan = left_by_a_dead_creator();
    ASSERT_TRUE(segment_exists(orphan));
    const auto listed = find(mp::list_segments(), orphan);
    ASSERT_TRUE(listed);
    EXPECT_EQ(listed->creator, mp::SegmentInfo::Creator::dead);

    mp::Value<int> alive(3);
    mp::Value<int> kept(4, {.track = false});
    const auto removed = mp::remove_dead_segments();
    EXPECT_TRUE(find(removed, orphan));
    EXPECT_FALSE(segment_exists(orphan));
    EXPECT_TRUE(segment_exists(alive.name()));
    EXPECT_TRUE(segment_exists(kept.name()));
    ::shm_unlink(("/" + kept.name()).c_str());
}

TEST(SegmentsTool, ListsAndCleans) {
    const std::string orphan = left_by_a_dead_creator();
    mp::Array<int, 3> array;
    const auto list = mpshm_test::run_command({MPSHM_SEGMENTS_TOOL});
    ASSERT_EQ(list.exit_code, 0) << list.out;
    EXPECT_TRUE(contains(list.out, array.name())) << list.out;
    EXPECT_TRUE(contains(list.out, orphan)) << list.out;
    EXPECT_TRUE(contains(list.out, "dead")) << list.out;

    const auto clean = mpshm_test::run_command({MPSHM_SEGMENTS_TOOL, "--clean"});
    ASSERT_EQ(clean.exit_code, 0) << clean.out;
    EXPECT_TRUE(contains(clean.out, "removed " + orphan)) << clean.out;
    EXPECT_FALSE(segment_exists(orphan));
    EXPECT_TRUE(segment_exists(array.name()));

    const auto bad = mpshm_test::run_command({MPSHM_SEGMENTS_TOOL, "--remove", orphan}, {}, true);
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_TRUE(contains(bad.err, "cannot remove '" + orphan + "'")) << bad.err;
}

}  // namespace
