// mpshm: Win32 process identity and randomness.
// SPDX-License-Identifier: MIT
#pragma once

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
// windows.h first: bcrypt.h relies on its types.
#include <bcrypt.h>

#include <cstddef>
#include <cstdint>
#include <system_error>

namespace mpshm::detail::win32 {

using pid_type = unsigned long;  // DWORD

inline pid_type current_pid() noexcept {
    return ::GetCurrentProcessId();
}

// Whether process PID has certainly exited. One that we may not open (it
// belongs to another user) is not known to be gone.
inline bool process_gone(pid_type pid) noexcept {
    HANDLE process = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
    if (process == nullptr) return ::GetLastError() == ERROR_INVALID_PARAMETER;
    const bool exited = ::WaitForSingleObject(process, 0) == WAIT_OBJECT_0;
    ::CloseHandle(process);
    return exited;
}

inline void fill_random(void* out, std::size_t n) {
    const auto status = ::BCryptGenRandom(nullptr, static_cast<PUCHAR>(out), static_cast<ULONG>(n),
                                          BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (status != 0) {
        throw std::system_error(static_cast<int>(status), std::system_category(),
                                "mpshm: BCryptGenRandom");
    }
}

// Not recorded on Windows yet: segments there vanish with their last handle.
inline std::uint64_t current_start_time() noexcept {
    return 0;
}

// Kernel object names may be far longer, but Python keeps to 14 characters
// and users read these names: MAX_PATH is a generous, documented bound.
inline constexpr std::size_t max_name_length = MAX_PATH;

// Python's prefix for random names on Windows ("wnsm_" + 8 hex digits).
inline constexpr const char* random_name_prefix = "wnsm_";

}  // namespace mpshm::detail::win32
