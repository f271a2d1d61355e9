// mpshm: selects the platform's process layer (start, wait, end a child),
// reached as detail::os like the rest of the platform layer (see os.hpp).
// SPDX-License-Identifier: MIT
#pragma once

#include <mpshm/detail/os.hpp>

#if defined(_WIN32)
#include <mpshm/detail/win32/process.hpp>
#else
#include <mpshm/detail/posix/process.hpp>
#endif
