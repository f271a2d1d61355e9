// mpshm: selects the platform's robust process-shared mutex.
// SPDX-License-Identifier: MIT
#pragma once

#if defined(_WIN32)
#error "mpshm: the Win32 robust lock (named kernel mutex) is not written yet; see the Win32 issue"
#else
#include <mpshm/detail/posix/robust_mutex.hpp>
namespace mpshm::detail {
using posix::RobustMutex;
}
#endif
