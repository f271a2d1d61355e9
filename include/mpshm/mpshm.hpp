// mpshm: Python's multiprocessing shared memory for C++. The umbrella header.
// SPDX-License-Identifier: MIT
#pragma once

#include <mpshm/errors.hpp>
#include <mpshm/managers.hpp>
#include <mpshm/process.hpp>
#include <mpshm/queues.hpp>
#if !defined(_WIN32)
#include <mpshm/segments.hpp>
#endif
#include <mpshm/shareable_list.hpp>
#include <mpshm/shared_memory.hpp>
#include <mpshm/sharedctypes.hpp>
#include <mpshm/synchronize.hpp>
#include <mpshm/type_tag.hpp>
#include <mpshm/version.hpp>
