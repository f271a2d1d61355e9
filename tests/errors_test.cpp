// Tests for mpshm/errors.hpp: Python's exception names, OS reasons, hierarchy.
// SPDX-License-Identifier: MIT
#include <cerrno>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>
#include <mpshm/errors.hpp>

namespace mp = mpshm;

static_assert(std::is_base_of_v<std::runtime_error, mp::Error>);
static_assert(std::is_base_of_v<mp::Error, mp::OSError>);
static_assert(std::is_base_of_v<mp::OSError, mp::FileNotFoundError>);
static_assert(std::is_base_of_v<mp::OSError, mp::FileExistsError>);
static_assert(std::is_base_of_v<mp::OSError, mp::PermissionError>);
static_assert(std::is_base_of_v<mp::Error, mp::TypeMismatchError>);
static_assert(std::is_base_of_v<mp::Error, mp::CorruptSegmentError>);
static_assert(std::is_base_of_v<mp::Error, mp::TimeoutError>);
static_assert(std::is_base_of_v<mp::Error, mp::ClosedError>);

namespace {

// Throws for ERR and returns what was caught as an OSError.
template <typename Expected>
std::string thrown_for(int err) {
    try {
        mp::detail::throw_os_error("seg", "cannot attach", err);
    } catch (const Expected& e) {
        EXPECT_EQ(e.code().value(), err);
        return e.what();
    }
    return "(nothing thrown)";
}

}  // namespace

TEST(Errors, OsErrorsMapToPythonsExceptionTypes) {
    EXPECT_EQ(thrown_for<mp::FileNotFoundError>(ENOENT),
              "mpshm: segment 'seg': cannot attach: No such file or directory");
    EXPECT_EQ(thrown_for<mp::FileExistsError>(EEXIST),
              "mpshm: segment 'seg': cannot attach: File exists");
    EXPECT_EQ(thrown_for<mp::PermissionError>(EACCES),
              "mpshm: segment 'seg': cannot attach: Permission denied");
    EXPECT_EQ(thrown_for<mp::PermissionError>(EPERM),
              "mpshm: segment 'seg': cannot attach: Operation not permitted");
    EXPECT_EQ(thrown_for<mp::OSError>(ENOMEM),
              "mpshm: segment 'seg': cannot attach: Cannot allocate memory");
}

TEST(Errors, OtherOsErrorsAreNotMistakenForMissingOrExisting) {
    try {
        mp::detail::throw_os_error("seg", "cannot map", EINVAL);
        FAIL() << "nothing thrown";
    } catch (const mp::FileNotFoundError&) {
        FAIL() << "EINVAL reported as FileNotFoundError";
    } catch (const mp::FileExistsError&) {
        FAIL() << "EINVAL reported as FileExistsError";
    } catch (const mp::OSError& e) {
        EXPECT_EQ(e.code(), std::errc::invalid_argument);
    }
}
