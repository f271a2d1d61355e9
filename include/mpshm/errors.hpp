// mpshm: the exception types, mirroring the Python exceptions they stand for.
// SPDX-License-Identifier: MIT
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace mpshm {

// Base of every error mpshm raises itself. Bad arguments are reported with the
// standard std::invalid_argument (Python's ValueError) and std::out_of_range
// (Python's IndexError) instead, so generic C++ code can catch them.
class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Python's OSError: an operating-system call failed. code() keeps the OS's
// error number so callers can tell causes apart without parsing what().
class OSError : public Error {
  public:
    OSError(const std::string& what, std::error_code code) : Error(what), code_(code) {}
    [[nodiscard]] std::error_code code() const noexcept { return code_; }

  private:
    std::error_code code_;
};

// Python's FileNotFoundError: attaching to a name that does not exist.
class FileNotFoundError : public OSError {
  public:
    using OSError::OSError;
};

// Python's FileExistsError: creating a name that already exists.
class FileExistsError : public OSError {
  public:
    using OSError::OSError;
};

// Python's PermissionError: the segment exists but we may not open it.
class PermissionError : public OSError {
  public:
    using OSError::OSError;
};

// Attaching as the wrong kind, element type or length. Python has no
// equivalent: it would silently reinterpret the bytes.
class TypeMismatchError : public Error {
  public:
    using Error::Error;
};

// A segment whose header is not mpshm's, is damaged, or is too small.
class CorruptSegmentError : public Error {
  public:
    using Error::Error;
};

// Python's TimeoutError: a timed wait ran out where Python raises.
class TimeoutError : public Error {
  public:
    using Error::Error;
};

// Using an object after close(). Python raises ValueError on a released
// memoryview; this is a state error, not a bad argument, hence its own type.
class ClosedError : public Error {
  public:
    using Error::Error;
};

// Python's MemoryError: a Manager's segment has no room left. The operation
// that needed the room changed nothing.
class MemoryError : public Error {
  public:
    using Error::Error;
};

// Python's threading.BrokenBarrierError: the Barrier was aborted, reset
// while parties waited, timed out, or lost a party that died waiting.
class BrokenBarrierError : public Error {
  public:
    using Error::Error;
};

// Python's queue.Empty: get() without blocking, or past its timeout, found nothing.
class Empty : public Error {
  public:
    using Error::Error;
};

// Python's queue.Full: put() without blocking, or past its timeout, found no room.
class Full : public Error {
  public:
    using Error::Error;
};

namespace detail {

inline std::string quoted_segment(std::string_view name) {
    std::string s = "segment '";
    s.append(name);
    s += '\'';
    return s;
}

// "mpshm: segment 'NAME': ACTION: REASON"
inline std::string segment_message(std::string_view name, std::string_view action,
                                   std::string_view reason) {
    std::string s = "mpshm: " + quoted_segment(name);
    s += ": ";
    s.append(action);
    s += ": ";
    s.append(reason);
    return s;
}

// Turns an OS error number into the exception Python would raise for it.
[[noreturn]] inline void throw_os_error(std::string_view name, std::string_view action,
                                        int native_error) {
    const std::error_code code(native_error, std::system_category());
    const std::string what = segment_message(name, action, code.message());
    // Compare through error conditions so that Win32 error numbers map too.
    if (code == std::errc::no_such_file_or_directory) throw FileNotFoundError(what, code);
    if (code == std::errc::file_exists) throw FileExistsError(what, code);
    if (code == std::errc::permission_denied || code == std::errc::operation_not_permitted) {
        throw PermissionError(what, code);
    }
    throw OSError(what, code);
}

}  // namespace detail
}  // namespace mpshm
