// mpshm: translates Boost.Interprocess exceptions into mpshm's.
// SPDX-License-Identifier: MIT
#pragma once

#include <boost/interprocess/exceptions.hpp>
#include <string_view>

#include <mpshm/errors.hpp>

namespace mpshm::detail {

[[noreturn]] inline void rethrow_boost(std::string_view name, std::string_view action,
                                       const boost::interprocess::interprocess_exception& e) {
    if (e.get_native_error() != 0) throw_os_error(name, action, e.get_native_error());
    throw OSError(segment_message(name, action, e.what()), {});
}

}  // namespace mpshm::detail
