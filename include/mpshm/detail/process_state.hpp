// mpshm: what a process knows about itself: its name and identity, its
// parent, its live children, and the spawn entry points it can run.
// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <mpshm/detail/process_os.hpp>
#include <mpshm/detail/spawn_args.hpp>

namespace mpshm {
class Process;
enum class StartMethod : std::uint8_t { fork, spawn };
}  // namespace mpshm

namespace mpshm::detail {

struct ParentInfo {
    std::string name;
    std::int64_t pid = 0;
};

struct ProcessState {
    std::mutex mutex;
    std::string name = "MainProcess";
    bool daemon = false;
    std::vector<unsigned> identity;  // empty in the main process; {1, 2} in Process-1:2
    unsigned counter = 0;            // names this process's children
    std::optional<ParentInfo> parent;
    std::vector<Process*> children;  // started and not yet reaped
    bool exit_handler_installed = false;
    std::optional<StartMethod> start_method;  // nullopt until set or first used
    bool spawned = false;                     // started by spawn: freeze_support() ran
};

// One per program (an inline function's static: shared by every translation unit).
inline ProcessState& process_state() {
    static ProcessState state;
    return state;
}

// A spawned child's entry: decodes the arguments and calls the target, at
// TARGET, an address freeze_support() checked to be this program's code.
using SpawnEntry = void (*)(std::uintptr_t target, Decoder& args);

// Every entry point this program contains. Each Process<F, Args...> form
// registers its own during static initialisation, so a spawned child (the
// same executable) can check that the entry its parent named is real before
// jumping to it.
inline std::set<SpawnEntry>& spawn_entries() {
    static std::set<SpawnEntry> entries;
    return entries;
}

// Runs while static variables are initialised, where an exception could
// not be caught anyway: noexcept says so (no memory then is fatal).
inline bool register_spawn_entry(SpawnEntry entry) noexcept {
    spawn_entries().insert(entry);
    return true;
}

// Code addresses travel as offsets from this function, which is in the
// executable itself: the same offset finds the same code in a fresh run,
// wherever address-space randomisation placed it. They travel only from a
// parent to the child it starts, never through shared memory (whoever can
// write a segment must not choose the code its users run).
inline void spawn_anchor() {}

template <typename Code>
std::intptr_t code_offset(Code* code) {
    return reinterpret_cast<std::intptr_t>(code) - reinterpret_cast<std::intptr_t>(&spawn_anchor);
}

// The code at OFFSET from spawn_anchor, or nullptr unless that lies in the
// executable code of this program: checked before anything is called.
template <typename Code>
Code* program_code_at(std::int64_t offset) noexcept {
    const auto anchor = reinterpret_cast<std::uintptr_t>(&spawn_anchor);
    const std::uintptr_t address = anchor + static_cast<std::uintptr_t>(offset);  // wraps, defined
    if (!os::in_program_code(address, anchor)) return nullptr;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): checked to be this program's code
    return reinterpret_cast<Code*>(address);
}

}  // namespace mpshm::detail
