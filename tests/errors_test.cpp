// Tests for mpshm/errors.hpp: Python's exception names, OS reasons, hierarchy.
// SPDX-License-Identifier: MIT
#include <cerrno>
#include <string>
#include <type_traits>

#if defined(_WIN32)
#include <windows.h>
#endif

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

#if !defined(_WIN32)
// errno numbers and glibc's texts for them: POSIX only (Win32 below).
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
#else
// Win32 error numbers map to the same Python exceptions, as CPython's
// OSError maps winerror.
TEST(Errors, Win32ErrorsMapToPythonsExceptionTypes) {
    const std::string not_found = thrown_for<mp::FileNotFoundError>(ERROR_FILE_NOT_FOUND);
    EXPECT_EQ(not_found.rfind("mpshm: segment 'seg': cannot attach: ", 0), 0U) << not_found;
    EXPECT_GT(not_found.size(), std::string("mpshm: segment 'seg': cannot attach: ").size());
    (void)thrown_for<mp::FileExistsError>(ERROR_ALREADY_EXISTS);
    (void)thrown_for<mp::PermissionError>(ERROR_ACCESS_DENIED);
}

TEST(Errors, OtherWin32ErrorsAreNotMistakenForMissingOrExisting) {
    try {
        mp::detail::throw_os_error("seg", "cannot map", ERROR_INVALID_PARAMETER);
        FAIL() << "nothing thrown";
    } catch (const mp::FileNotFoundError&) {
        FAIL() << "ERROR_INVALID_PARAMETER reported as FileNotFoundError";
    } catch (const mp::FileExistsError&) {
        FAIL() << "ERROR_INVALID_PARAMETER reported as FileExistsError";
    } catch (const mp::OSError& e) {
        EXPECT_EQ(e.code().value(), ERROR_INVALID_PARAMETER);
    }
}
#endif
