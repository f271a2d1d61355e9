// mpshm: Win32 process primitives: spawn of this executable, wait, terminate.
// The counterpart of detail/posix/process.hpp, with the same names. Windows
// has no fork: spawn is the only start method there, as in Python.
// SPDX-License-Identifier: MIT
#pragma once

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace mpshm::detail::win32 {

// No fork on Windows: get_context(StartMethod::fork) and the like throw
// std::invalid_argument, as Python raises ValueError there.
inline constexpr bool has_fork = false;

// The exit code terminate() gives a child, which exitcode() reports as
// -SIGTERM: Python's multiprocessing.popen_spawn_win32.TERMINATE.
inline constexpr DWORD terminate_exit_code = 0x10000;

[[noreturn]] inline void throw_last_error(const char* what, DWORD err = ::GetLastError()) {
    throw std::system_error(static_cast<int>(err), std::system_category(),
                            std::string("mpshm: ") + what);
}

// An exit code as Python's Popen on Windows reports it.
inline int decode_exit_code(DWORD code) noexcept {
    if (code == terminate_exit_code) return -SIGTERM;
    return static_cast<int>(code);
}

// A started child, as Process sees it. The handle is kept until release()
// (Process::close() or its destruction), as Python keeps its Popen's: the
// sentinel stays valid and the pid cannot be reused meanwhile.
class Child {
  public:
    using sentinel_type = HANDLE;  // signalled once the child has ended
    Child() noexcept = default;
    Child(HANDLE process, DWORD pid) noexcept : handle_(process), pid_(pid) {}
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    Child(Child&& other) noexcept
        : handle_(std::exchange(other.handle_, nullptr)), pid_(other.pid_) {}
    Child& operator=(Child&& other) noexcept {
        if (this != &other) {
            release();
            handle_ = std::exchange(other.handle_, nullptr);
            pid_ = other.pid_;
        }
        return *this;
    }
    ~Child() { release(); }

    [[nodiscard]] DWORD pid() const noexcept { return pid_; }

    // The child's exit code once it has ended (-SIGTERM after terminate());
    // with BLOCK false, nullopt while it runs.
    std::optional<int> wait(bool block) { return wait_ms(block ? INFINITE : 0); }

    // The same, waiting at most TIMEOUT.
    std::optional<int> wait_for(std::chrono::nanoseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            // Milliseconds, rounded up so as never to return early; waits
            // longer than INFINITE allows are taken in several steps.
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            const auto ms =
                std::clamp<std::chrono::milliseconds::rep>(left.count(), 0, INFINITE - 1);
            if (auto code = wait_ms(static_cast<DWORD>(ms))) return code;
            if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        }
    }

    // Python's terminate(): TerminateProcess with the code that reads as
    // -SIGTERM. Ending a child that has ended already is no error.
    void terminate() {
        if (::TerminateProcess(handle_, terminate_exit_code) != 0) return;
        const DWORD err = ::GetLastError();
        DWORD code = 0;
        if (::GetExitCodeProcess(handle_, &code) != 0 && code != STILL_ACTIVE) return;
        throw_last_error("TerminateProcess", err);
    }
    // Python's kill() is terminate() on Windows: there is no SIGKILL.
    void kill() { terminate(); }

    [[nodiscard]] std::optional<sentinel_type> sentinel() const noexcept { return handle_; }

    // Nothing to reap on Windows; the handle stays until release().
    void reaped() noexcept {}

    void release() noexcept {
        if (handle_ != nullptr) ::CloseHandle(handle_);
        handle_ = nullptr;
    }

  private:
    std::optional<int> wait_ms(DWORD ms) {
        const DWORD r = ::WaitForSingleObject(handle_, ms);
        if (r == WAIT_TIMEOUT) return std::nullopt;
        if (r != WAIT_OBJECT_0) throw_last_error("WaitForSingleObject");
        DWORD code = 0;
        if (::GetExitCodeProcess(handle_, &code) == 0) throw_last_error("GetExitCodeProcess");
        return decode_exit_code(code);
    }

    HANDLE handle_ = nullptr;
    DWORD pid_ = 0;
};

// This executable's full path (GetModuleFileNameW truncates silently: grow
// until the path fits).
inline std::wstring executable_path() {
    std::wstring path(MAX_PATH, L'\0');
    for (;;) {
        const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
        if (n == 0) throw_last_error("GetModuleFileNameW");
        if (n < path.size()) {
            path.resize(n);
            return path;
        }
        path.resize(path.size() * 2);
    }
}

// Environment variable names compare without case on Windows.
inline bool starts_with_name(std::wstring_view entry, std::wstring_view prefix) noexcept {
    if (entry.size() < prefix.size()) return false;
    const auto lower = [](wchar_t c) { return c >= L'A' && c <= L'Z' ? c - L'A' + L'a' : c; };
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (lower(entry[i]) != lower(prefix[i])) return false;
    }
    return true;
}

// This process's environment block with ENTRY ("NAME=value", ASCII) added,
// replacing any NAME already there.
inline std::wstring environment_with(std::string_view entry) {
    const std::wstring added(entry.begin(), entry.end());
    const std::wstring_view key(added.data(), added.find(L'=') + 1);
    std::wstring block;
    if (wchar_t* const env = ::GetEnvironmentStringsW()) {
        for (const wchar_t* e = env; *e != L'\0';) {
            const std::wstring_view var(e);
            if (!starts_with_name(var, key)) {
                block.append(var);
                block.push_back(L'\0');
            }
            e += var.size() + 1;
        }
        ::FreeEnvironmentStringsW(env);
    }
    block.append(added);
    block.push_back(L'\0');
    block.push_back(L'\0');  // the block's end
    return block;
}

// Inheritable duplicates of this process's standard handles, for a child to
// write where its parent writes (a console, a file, a pipe) and to inherit
// nothing else.
class StandardHandles {
  public:
    StandardHandles() {
        const DWORD ids[3] = {STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE};
        const HANDLE self = ::GetCurrentProcess();
        for (int i = 0; i < 3; ++i) {
            const HANDLE h = ::GetStdHandle(ids[i]);
            if (h == nullptr || h == INVALID_HANDLE_VALUE) continue;
            // Standard output and error are often one handle: one duplicate.
            for (int j = 0; j < i; ++j) {
                if (sources_[j] == h) dups_[i] = dups_[j];
            }
            sources_[i] = h;
            if (dups_[i] != nullptr) continue;
            HANDLE dup = nullptr;
            if (::DuplicateHandle(self, h, self, &dup, 0, TRUE, DUPLICATE_SAME_ACCESS) != 0) {
                dups_[i] = dup;
                inherited_.push_back(dup);
            }
        }
    }
    StandardHandles(const StandardHandles&) = delete;
    StandardHandles& operator=(const StandardHandles&) = delete;
    ~StandardHandles() {
        for (const HANDLE h : inherited_) ::CloseHandle(h);
    }
    [[nodiscard]] HANDLE input() const noexcept { return dups_[0]; }
    [[nodiscard]] HANDLE output() const noexcept { return dups_[1]; }
    [[nodiscard]] HANDLE error() const noexcept { return dups_[2]; }
    // Each distinct handle once, as PROC_THREAD_ATTRIBUTE_HANDLE_LIST wants.
    [[nodiscard]] std::vector<HANDLE>& inherited() noexcept { return inherited_; }

  private:
    HANDLE sources_[3] = {nullptr, nullptr, nullptr};
    HANDLE dups_[3] = {nullptr, nullptr, nullptr};
    std::vector<HANDLE> inherited_;
};

// Limits what a child inherits to LIST (PROC_THREAD_ATTRIBUTE_HANDLE_LIST),
// so that it never receives the parent's other inheritable handles (files
// the C runtime opened, for one).
class HandleListAttribute {
  public:
    explicit HandleListAttribute(std::vector<HANDLE>& list) {
        SIZE_T size = 0;
        (void)::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
        storage_.resize(size);
        auto* const attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
        if (size == 0 || ::InitializeProcThreadAttributeList(attrs, 1, 0, &size) == 0) {
            throw_last_error("InitializeProcThreadAttributeList");
        }
        attrs_ = attrs;
        if (::UpdateProcThreadAttribute(attrs_, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, list.data(),
                                        list.size() * sizeof(HANDLE), nullptr, nullptr) == 0) {
            throw_last_error("UpdateProcThreadAttribute");
        }
    }
    HandleListAttribute(const HandleListAttribute&) = delete;
    HandleListAttribute& operator=(const HandleListAttribute&) = delete;
    ~HandleListAttribute() {
        if (attrs_ != nullptr) ::DeleteProcThreadAttributeList(attrs_);
    }
    [[nodiscard]] LPPROC_THREAD_ATTRIBUTE_LIST get() const noexcept { return attrs_; }

  private:
    std::vector<unsigned char> storage_;  // operator new's alignment serves
    LPPROC_THREAD_ATTRIBUTE_LIST attrs_ = nullptr;
};

// Starts a fresh run of this executable, with this program's own command
// line (so that it looks like its parent in a task list, and no argument is
// ever re-quoted) and ENV_ENTRY ("NAME=value") added to its environment,
// where mpshm::freeze_support() finds it. The child writes to this process's
// standard handles and inherits no other handle.
inline Child spawn_child(const std::string& env_entry) {
    const std::wstring exe = executable_path();
    std::wstring command_line = ::GetCommandLineW();  // CreateProcessW may write to it
    std::wstring environment = environment_with(env_entry);
    StandardHandles standard;
    STARTUPINFOEXW info{};
    info.StartupInfo.cb = sizeof info;
    DWORD flags = CREATE_UNICODE_ENVIRONMENT;
    std::optional<HandleListAttribute> handle_list;
    const bool inherit = !standard.inherited().empty();
    if (inherit) {
        info.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
        info.StartupInfo.hStdInput = standard.input();
        info.StartupInfo.hStdOutput = standard.output();
        info.StartupInfo.hStdError = standard.error();
        handle_list.emplace(standard.inherited());
        info.lpAttributeList = handle_list->get();
        flags |= EXTENDED_STARTUPINFO_PRESENT;
    }
    PROCESS_INFORMATION started{};
    if (::CreateProcessW(exe.c_str(), command_line.data(), nullptr, nullptr, inherit ? TRUE : FALSE,
                         flags, environment.data(), nullptr, &info.StartupInfo, &started) == 0) {
        throw_last_error("CreateProcessW of this executable");
    }
    ::CloseHandle(started.hThread);
    return Child(started.hProcess, started.dwProcessId);
}

// The name of signal SIG without "SIG" (TERM), or null if it has none: the
// signals of Windows' C runtime, which Python's signal.Signals names there.
inline const char* signal_name(int sig) noexcept {
    switch (sig) {
        case SIGINT:
            return "INT";
        case SIGILL:
            return "ILL";
        case SIGFPE:
            return "FPE";
        case SIGSEGV:
            return "SEGV";
        case SIGTERM:
            return "TERM";
        case SIGBREAK:
            return "BREAK";
        case SIGABRT:
            return "ABRT";
        default:
            return nullptr;
    }
}

// Whether process PID still runs (Python's parent_process().is_alive()).
inline bool pid_alive(std::int64_t pid) noexcept {
    if (pid <= 0) return false;
    const HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
    if (h == nullptr) return ::GetLastError() == ERROR_ACCESS_DENIED;
    const bool alive = ::WaitForSingleObject(h, 0) == WAIT_TIMEOUT;
    ::CloseHandle(h);
    return alive;
}

// Whether the code at ADDRESS and at ANCHOR are both in the executable
// itself (not in a DLL), where a fresh run of it finds them again.
inline bool same_module(std::intptr_t address, std::intptr_t anchor) noexcept {
    constexpr DWORD flags =
        GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT;
    HMODULE of_address = nullptr;
    HMODULE of_anchor = nullptr;
    // NOLINTBEGIN(performance-no-int-to-ptr): code addresses, as the API takes them
    return ::GetModuleHandleExW(flags, reinterpret_cast<LPCWSTR>(address), &of_address) != 0 &&
           ::GetModuleHandleExW(flags, reinterpret_cast<LPCWSTR>(anchor), &of_anchor) != 0 &&
           of_address == of_anchor && of_anchor == ::GetModuleHandleW(nullptr);
    // NOLINTEND(performance-no-int-to-ptr)
}

// Whether ADDRESS lies in an executable section of the executable itself,
// which holds ANCHOR: the bounds a code offset from a parent is checked
// against before anything is called through it.
inline bool in_program_code(std::uintptr_t address, std::uintptr_t anchor) noexcept {
    const auto* base = reinterpret_cast<const unsigned char*>(::GetModuleHandleW(nullptr));
    if (base == nullptr) return false;
    const auto* dos = reinterpret_cast<const IMAGE_DOS_HEADER*>(base);
    const auto* nt = reinterpret_cast<const IMAGE_NT_HEADERS*>(base + dos->e_lfanew);
    const IMAGE_SECTION_HEADER* section = IMAGE_FIRST_SECTION(nt);
    bool holds_anchor = false;
    bool holds_address = false;
    for (WORD i = 0; i < nt->FileHeader.NumberOfSections; ++i, ++section) {
        if ((section->Characteristics & IMAGE_SCN_MEM_EXECUTE) == 0) continue;
        const auto begin = reinterpret_cast<std::uintptr_t>(base) + section->VirtualAddress;
        const std::uintptr_t end = begin + section->Misc.VirtualSize;
        holds_anchor = holds_anchor || (anchor >= begin && anchor < end);
        holds_address = holds_address || (address >= begin && address < end);
    }
    return holds_anchor && holds_address;
}

// Removes NAME from the C runtime's environment and the process's own.
inline void unset_environment(const char* name) noexcept {
    const std::string entry = std::string(name) + "=";  // "NAME=" removes NAME
    (void)::_putenv(entry.c_str());
    (void)::SetEnvironmentVariableA(name, nullptr);
}

// Python's os.cpu_count() on Windows: the processors of every group.
inline int cpu_count() noexcept {
    const DWORD n = ::GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    if (n > 0) return static_cast<int>(n);
    SYSTEM_INFO info{};
    ::GetSystemInfo(&info);
    return info.dwNumberOfProcessors > 0 ? static_cast<int>(info.dwNumberOfProcessors) : 1;
}

}  // namespace mpshm::detail::win32
