// mpshm: Value, RawValue, Array and RawArray, where Python keeps them
// (multiprocessing.sharedctypes).
// SPDX-License-Identifier: MIT
#pragma once

#include <mpshm/array.hpp>
#include <mpshm/value.hpp>
