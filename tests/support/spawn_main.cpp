// main() for test programs whose tests start processes by spawn: a spawned
// child is a fresh run of the test program, and must dispatch first.
// SPDX-License-Identifier: MIT
#include <gtest/gtest.h>
#include <mpshm/process.hpp>

int main(int argc, char** argv) {
    mpshm::freeze_support();
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
