// mpshm: selects the platform layer. Everything above detail/ is portable.
// SPDX-License-Identifier: MIT
#pragma once

#if defined(_WIN32)
#include <mpshm/detail/win32/os.hpp>
#include <mpshm/detail/win32/segment.hpp>
namespace mpshm::detail {
namespace os = win32;
}
#else
#include <mpshm/detail/posix/os.hpp>
#include <mpshm/detail/posix/proc.hpp>
#include <mpshm/detail/posix/segment.hpp>
#include <mpshm/detail/posix/tracker.hpp>
namespace mpshm::detail {
namespace os = posix;
}
#endif
