// mpshm: sleeping until a shared 32-bit word changes, across processes (Win32).
// SPDX-License-Identifier: MIT
#pragma once

#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <mpshm/detail/win32/mappings.hpp>

namespace mpshm::detail::win32 {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

// Why hand-written: WaitOnAddress, Windows' futex, wakes only threads of the
// same process, and Boost.Interprocess's condition variables emulate POSIX
// with files and spinning. So a wait is a named kernel event, one per word
// and value: "Local\mpshm_wait_<segment>_<offset>_<value>". A waiter opens
// (or makes) the event for the value it saw, looks at the word once more,
// and sleeps on the event; a waker changes the word, then sets the event of
// the value it changed it from, if anyone has it open.
//
// - Nothing is lost: a waiter whose event the waker did not find made it
//   after the waker changed the word, so its second look sees the change;
//   otherwise the event is set, and stays set while anyone holds it open.
// - Nothing is stolen: the event is manual-reset, so a set wakes every
//   waiter of that value (a wake of one wakes them all: spurious wakeups,
//   which every caller allows), and a waiter that came later, for the new
//   value, waits on another event.
// - Nothing is left behind: each waiter closes its handle, and the event
//   goes with the last one; a killed waiter's handle is closed by the OS.
// Each wait and wake costs a few kernel calls (about 7 us each under
// Wine); the callers only wake when someone sleeps.

// The kernel name of the event for WORD holding VALUE. Segment names may
// hold any character but '/' and '\\'; kernel names any but '\\', and at
// most MAX_PATH of them: a name is spelt in [0-9A-Za-z_.-] and %XX escapes,
// or hashed ('#') when that is long; a word outside any segment is marked
// '!', which neither spelling makes.
inline std::wstring wait_event_name(const void* word, std::uint32_t value) {
    static constexpr std::string_view hex = "0123456789abcdef";
    const auto append_hex = [](std::wstring& out, std::uint64_t v, int digits) {
        for (int i = digits - 1; i >= 0; --i)
            out += static_cast<wchar_t>(hex[(v >> (4 * i)) & 0xF]);
    };
    std::wstring name = L"Local\\mpshm_wait_";
    if (const auto place = MappedSegments::instance().place_of(word)) {
        std::wstring spelt;
        for (const char c : place->segment) {
            const auto u = static_cast<unsigned char>(c);
            const bool plain = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') ||
                               (u >= 'A' && u <= 'Z') || u == '_' || u == '-' || u == '.';
            if (plain) {
                spelt += static_cast<wchar_t>(u);
            } else {
                spelt += L'%';
                append_hex(spelt, u, 2);
            }
        }
        if (spelt.size() <= 160) {
            name += spelt;
        } else {
            // Two FNV-1a hashes of the name, from different starting points.
            std::uint64_t a = 0xcbf29ce484222325ULL;
            std::uint64_t b = 0x84222325cbf29ce4ULL;
            for (const char c : place->segment) {
                a = (a ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
                b = (b ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
            }
            name += L'#';
            append_hex(name, a, 16);
            append_hex(name, b, 16);
        }
        name += L'_';
        append_hex(name, place->offset, 16);
    } else {
        // Not in a segment: only this process's threads can share it.
        name += L'!';
        append_hex(name, ::GetCurrentProcessId(), 8);
        name += L'_';
        append_hex(name, reinterpret_cast<std::uintptr_t>(word), 16);
    }
    name += L'_';
    append_hex(name, value, 8);
    return name;
}

// Sleeps while *word == expected, until woken or DEADLINE (steady clock).
// Returns false only on timeout; wakes may be spurious.
inline bool futex_wait(std::uint32_t* word, std::uint32_t expected, const Deadline& deadline) {
    const std::wstring name = wait_event_name(word, expected);
    HANDLE event = ::CreateEventW(nullptr, TRUE, FALSE, name.c_str());
    if (event == nullptr) {
        throw std::system_error(static_cast<int>(::GetLastError()), std::system_category(),
                                "mpshm: CreateEventW for a wait");
    }
    // The event exists (it is ours to hold) before the word is read again.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool woken = true;
    if (std::atomic_ref<std::uint32_t>(*word).load(std::memory_order_acquire) == expected) {
        DWORD ms = INFINITE;
        if (deadline) {
            const auto left = *deadline - std::chrono::steady_clock::now();
            const auto wait_ms =
                std::chrono::ceil<std::chrono::milliseconds>(left).count();  // never early
            if (wait_ms <= 0) {
                ms = 0;
            } else if (wait_ms < static_cast<long long>(INFINITE - 1)) {
                ms = static_cast<DWORD>(wait_ms);
            } else {
                ms = INFINITE - 1;  // the caller sees no timeout and waits again
            }
        }
        const DWORD r = ::WaitForSingleObject(event, ms);
        if (r == WAIT_FAILED) {
            const auto err = static_cast<int>(::GetLastError());
            ::CloseHandle(event);
            throw std::system_error(err, std::system_category(), "mpshm: waiting on an event");
        }
        woken = r != WAIT_TIMEOUT;
    }
    ::CloseHandle(event);
    return woken;
}

// Wakes the waiters of WORD that saw it hold PREVIOUS: call it after the
// word changed from PREVIOUS. COUNT is not kept to: every such waiter wakes.
inline void futex_wake(std::uint32_t* word, std::uint32_t previous, int /*count*/) {
    // The word's change is visible before anyone can look up the event.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const std::wstring name = wait_event_name(word, previous);
    HANDLE event = ::OpenEventW(EVENT_MODIFY_STATE, FALSE, name.c_str());
    if (event == nullptr) return;  // no one waits for this value
    ::SetEvent(event);
    ::CloseHandle(event);
}

}  // namespace mpshm::detail::win32
