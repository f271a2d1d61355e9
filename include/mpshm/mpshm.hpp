// mpshm: Python's multiprocessing shared memory for C++. The umbrella header.
// SPDX-License-Identifier: MIT
#pragma once

#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>
#include <mpshm/version.hpp>
