// mpshm: synchronisation shareable between processes, where Python keeps it
// (multiprocessing.synchronize): Lock, RLock, Semaphore, BoundedSemaphore,
// Event, Condition, Barrier.
// SPDX-License-Identifier: MIT
#pragma once

#include <mpshm/lock.hpp>
// The rest are built on Lock:
#include <mpshm/barrier.hpp>
#include <mpshm/condition.hpp>
#include <mpshm/event.hpp>
#include <mpshm/semaphore.hpp>
