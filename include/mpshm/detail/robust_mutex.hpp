// mpshm: selects the platform's robust process-shared mutex.
// SPDX-License-Identifier: MIT
#pragma once

#if defined(_WIN32)
#include <mpshm/detail/win32/robust_mutex.hpp>
namespace mpshm::detail {
using win32::RobustMutex;
}
#else
#include <mpshm/detail/posix/robust_mutex.hpp>
namespace mpshm::detail {
using posix::RobustMutex;  // NOLINT(misc-unused-using-decls): this header exists to export it
}
#endif
