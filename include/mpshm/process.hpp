// mpshm: processes, the mirror of Python's multiprocessing.Process and its
// start methods (fork and spawn; spawn only on Windows, as in Python).
// SPDX-License-Identifier: MIT
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#endif
#if defined(__GLIBCXX__) && defined(__GXX_RTTI) && __has_include(<ext/stdio_sync_filebuf.h>)
#include <ext/stdio_sync_filebuf.h>
#include <typeinfo>
#define MPSHM_STDIO_SYNC_FILEBUF 1
#endif

#include <mpshm/detail/process_os.hpp>
#include <mpshm/detail/process_state.hpp>
#include <mpshm/detail/spawn_args.hpp>
#include <mpshm/errors.hpp>

namespace mpshm {

inline std::string_view to_string(StartMethod m) {
    return m == StartMethod::fork ? "fork" : "spawn";
}

namespace detail {

// In a spawned child whose main() never called freeze_support(): runs the
// target now (defined below, after freeze_support()).
inline void dispatch_if_spawned();

// Windows has no fork: asking for it there is Python's ValueError.
inline void check_start_method(std::optional<StartMethod> method) {
    if (!detail::os::has_fork && method == StartMethod::fork) {
        throw std::invalid_argument(
            "mpshm: cannot find context for 'fork' (this system has no fork: spawn is its only "
            "start method)");
    }
}

}  // namespace detail

// Python's set_start_method(): once per program unless FORCE, and not after
// get_start_method() fixed the default (Python raises RuntimeError).
inline void set_start_method(StartMethod method, bool force = false) {
    detail::dispatch_if_spawned();
    detail::check_start_method(method);
    auto& state = detail::process_state();
    const std::lock_guard lock(state.mutex);
    if (state.start_method && !force) {
        throw std::logic_error("mpshm: the start method has already been set (pass force = true)");
    }
    state.start_method = method;
}

// Python's get_start_method(): fork on POSIX, spawn on Windows, unless set
// otherwise.
inline StartMethod get_start_method() {
    detail::dispatch_if_spawned();
    auto& state = detail::process_state();
    const std::lock_guard lock(state.mutex);
    if (!state.start_method)
        state.start_method = detail::os::has_fork ? StartMethod::fork : StartMethod::spawn;
    return *state.start_method;
}

inline int cpu_count() noexcept {
    return detail::os::cpu_count();
}

// Python's Process(name=..., daemon=...) keywords, plus the start method of
// this one process (Python's get_context(method).Process).
struct ProcessOptions {
    std::optional<std::string> name = std::nullopt;  // default Process-N, as Python
    bool daemon = false;
    std::optional<StartMethod> start_method = std::nullopt;  // default get_start_method()
};

namespace detail {

inline std::string describe_exception(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        std::string type = typeid(e).name();
#if __has_include(<cxxabi.h>)
        int status = 0;
        char* pretty = abi::__cxa_demangle(type.c_str(), nullptr, nullptr, &status);
        if (status == 0 && pretty != nullptr) type = pretty;
        std::free(pretty);  // NOLINT: allocated by the demangler
#endif
        return type + ": " + e.what();
    } catch (...) {
        return "an exception of unknown type";
    }
}

// Flushes OS unless its buffer is libstdc++'s default one for std::cout and
// std::cerr (while synchronised with stdio), which keeps nothing of its own
// and writes straight through to C's stdout or stderr: std::fflush(nullptr)
// covers it then. A forked child that skips the C++ calls touches fewer
// pages its parent shares with it, and each such page costs a fault.
inline void flush_stream(std::ostream& os) {
    std::streambuf* const buf = os.rdbuf();
    if (buf == nullptr) return;
#if defined(MPSHM_STDIO_SYNC_FILEBUF)
    if (typeid(*buf) == typeid(__gnu_cxx::stdio_sync_filebuf<char>)) return;
#endif
    os.flush();
}

// Everything buffered for output: std::cout, std::cerr, then every C stream.
inline void flush_output() {
    flush_stream(std::cout);
    flush_stream(std::cerr);
    std::fflush(nullptr);
}

// Runs a target and reports an escaping exception as Python does: the
// traceback's header, the error, exit code 1.
template <typename Run>
int run_target(const std::string& name, Run&& run) {
    try {
        std::forward<Run>(run)();
        return 0;
    } catch (...) {
        std::cout.flush();
        std::fprintf(stderr, "Process %s:\n%s\n", name.c_str(),
                     describe_exception(std::current_exception()).c_str());
        std::fflush(stderr);
        return 1;
    }
}

inline std::string process_name(const std::vector<unsigned>& identity) {
    std::string name = "Process-";
    for (std::size_t i = 0; i < identity.size(); ++i) {
        if (i != 0) name += ':';
        name += std::to_string(identity[i]);
    }
    return name;
}

// The type-erased target and arguments of one Process.
class TargetBase {
  public:
    TargetBase() = default;
    TargetBase(const TargetBase&) = delete;
    TargetBase& operator=(const TargetBase&) = delete;
    virtual ~TargetBase() = default;
    virtual void run_here() = 0;                         // in a fork()ed child
    [[nodiscard]] virtual SpawnEntry entry() const = 0;  // in a spawned child
    [[nodiscard]] virtual std::intptr_t target_offset() const = 0;
    virtual void encode(Encoder& out) const = 0;
    // Code that must be in the executable for spawn to find it again.
    [[nodiscard]] virtual std::vector<std::intptr_t> code() const = 0;
};

template <typename F>
inline constexpr bool spawnable_target =
    std::is_pointer_v<F>&& std::is_function_v<std::remove_pointer_t<F>>;

template <typename F>
inline constexpr bool stateless_target =
    std::is_class_v<F>&& std::is_empty_v<F>&& std::default_initializable<F>;

template <typename F, typename... A>
class Target final : public TargetBase {
    static_assert((arg_traits<A>::travels && ...),
                  "mpshm::Process: an argument cannot travel to a child process. Pass shared "
                  "objects (Value, Array, SharedMemory, Lock, ...), plain trivially copyable "
                  "values, or strings; or specialise mpshm::detail::arg_traits for your type.");
    // A function or a lambda without captures can be found again by a
    // spawned child; any other callable (a lambda with captures) serves fork
    // only, and start() under spawn refuses it, as Python's spawn refuses a
    // target it cannot pickle.
    static constexpr bool travels = spawnable_target<F> || stateless_target<F>;

  public:
    template <typename Fn, typename... Args>
    explicit Target(Fn&& fn, Args&&... args)
        : fn_(std::forward<Fn>(fn)), stored_(arg_traits<A>::store(std::forward<Args>(args))...) {}

    void run_here() override {
        std::apply(
            [this](const auto&... stored) {
                std::tuple<decltype(arg_traits<A>::live(stored))...> live{
                    arg_traits<A>::live(stored)...};
                std::apply(fn_, live);
            },
            stored_);
    }

    [[nodiscard]] SpawnEntry entry() const override {
        if constexpr (travels) {
            (void)registered;  // instantiates the registration below
            return &run_spawned;
        } else {
            return nullptr;
        }
    }

    [[nodiscard]] std::intptr_t target_offset() const override {
        if constexpr (spawnable_target<F>) {
            return code_offset(fn_);
        } else {
            return 0;
        }
    }

    void encode(Encoder& out) const override {
        std::apply([&out](const auto&... stored) { (arg_traits<A>::encode(stored, out), ...); },
                   stored_);
    }

    [[nodiscard]] std::vector<std::intptr_t> code() const override {
        std::vector<std::intptr_t> addresses{reinterpret_cast<std::intptr_t>(&run_spawned)};
        if constexpr (spawnable_target<F>)
            addresses.push_back(reinterpret_cast<std::intptr_t>(fn_));
        return addresses;
    }

    // The spawned child's side: attach to or decode every argument, in
    // order, then call the target at TARGET (checked by freeze_support()).
    static void run_spawned(std::uintptr_t target, Decoder& in) {
        std::tuple<decltype(arg_traits<A>::decode(in))...> live{arg_traits<A>::decode(in)...};
        if (!in.done()) {
            throw Error("mpshm: spawned process: its start-up message is malformed (bytes "
                        "after its arguments)");
        }
        if constexpr (spawnable_target<F>) {
            // NOLINTNEXTLINE(performance-no-int-to-ptr): checked to be this program's code
            std::apply(reinterpret_cast<F>(target), live);
        } else if constexpr (stateless_target<F>) {
            (void)target;
            F fn{};
            std::apply(fn, live);
        } else {
            (void)target;
        }
    }

  private:
    static inline const bool registered = register_spawn_entry(&run_spawned);

    F fn_;
    std::tuple<typename arg_traits<A>::stored...> stored_;
};

inline constexpr std::string_view spawn_variable = "MPSHM_SPAWN";
inline constexpr std::uint32_t spawn_magic = 0x5053504dU;  // "MPSP"

inline std::string to_hex(const std::string& bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes) {
        const auto u = static_cast<unsigned char>(c);
        out += digits[u >> 4U];
        out += digits[u & 0xfU];
    }
    return out;
}

inline std::optional<std::string> from_hex(std::string_view hex) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi * 16 + lo);
    }
    return out;
}

// Set during static initialisation of a spawned child.
inline const bool spawned_by_mpshm = std::getenv(spawn_variable.data()) != nullptr;

inline void exit_cleanup();

}  // namespace detail

// Python's multiprocessing.Process. The target runs in a child process with
// its arguments: under fork, in a copy of this process; under spawn, in a
// fresh run of this executable, where every shared argument is attached by
// name and plain values arrive as bytes. A spawned child runs its target at
// mpshm::freeze_support(), best called first in main() (Python's
// `if __name__ == "__main__":`); without it, at the first mpshm call main()
// makes, so only what main() does before that runs twice.
class Process {
  public:
    // Python: Process(target=worker, args=(v, a)).
    template <typename F, typename... Args>
    requires(!std::same_as<std::remove_cvref_t<F>, ProcessOptions>) explicit Process(F&& target,
                                                                                     Args&&... args)
        : Process(ProcessOptions{}, std::forward<F>(target), std::forward<Args>(args)...) {}

    // Python: Process(target=worker, args=(...), name=..., daemon=...).
    template <typename F, typename... Args>
    Process(const ProcessOptions& options, F&& target, Args&&... args)
        : target_(std::make_unique<detail::Target<std::decay_t<F>, std::decay_t<Args>...>>(
              std::forward<F>(target), std::forward<Args>(args)...)),
          daemon_(options.daemon),
          method_(options.start_method) {
        detail::dispatch_if_spawned();
        detail::check_start_method(method_);
        auto& state = detail::process_state();
        {
            const std::lock_guard lock(state.mutex);
            identity_ = state.identity;
            identity_.push_back(++state.counter);
        }
        name_ = options.name.value_or(detail::process_name(identity_));
    }

    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    Process(Process&& other) noexcept { take(other); }
    Process& operator=(Process&& other) noexcept {
        if (this != &other) {
            finish();
            take(other);
        }
        return *this;
    }

    // A child still running when its Process is destroyed is joined (a
    // daemonic one terminated first), like std::jthread: no zombie is left.
    ~Process() { finish(); }

    void start() {
        check_open();
        if (started_) throw std::logic_error("mpshm: " + name_ + ": cannot start a process twice");
        auto& state = detail::process_state();
        if (state.daemon) {
            throw std::logic_error("mpshm: daemonic processes are not allowed to have children");
        }
        detail::dispatch_if_spawned();
        method_ = method_.value_or(get_start_method());
        starter_pid_ = static_cast<std::int64_t>(detail::os::current_pid());
        if (*method_ == StartMethod::fork) {
            start_fork();
        } else {
            start_spawn();
        }
        started_ = true;
        const std::lock_guard lock(state.mutex);
        state.children.push_back(this);
        if (!state.exit_handler_installed) {
            state.exit_handler_installed = true;
            std::atexit([] { detail::exit_cleanup(); });
        }
    }

    // Waits for the child to end.
    void join() {
        check_joinable();
        if (!exitcode_) reaped(child_.wait(true));
    }

    // Waits at most TIMEOUT; returns whether the child has ended (Python's
    // join(timeout) returns None: check exitcode() or is_alive() there).
    template <typename Rep, typename Period>
    bool join(std::chrono::duration<Rep, Period> timeout) {
        check_joinable();
        if (exitcode_) return true;
        const auto code =
            child_.wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
        if (!code) return false;
        reaped(code);
        return true;
    }

    [[nodiscard]] bool is_alive() {
        check_open();
        if (!started_) return false;
        check_parent("is_alive");
        return !poll();
    }

    // nullopt until the child has ended; then 0, its exit code, 1 after an
    // uncaught exception, or -N after signal N (on Windows: -SIGTERM after
    // terminate(), as in Python).
    [[nodiscard]] std::optional<int> exitcode() {
        check_open();
        if (started_ && !exitcode_) poll();
        return exitcode_;
    }

    // Python's terminate() (SIGTERM) and kill() (SIGKILL). On Windows both
    // are TerminateProcess, and the exit code reads as -SIGTERM, as Python's.
    void terminate() {
        check_open();
        if (started_ && !exitcode_) child_.terminate();
    }
    void kill() {
        check_open();
        if (started_ && !exitcode_) child_.kill();
    }

    // Releases the resources of a child that has ended; the object is then
    // unusable, as in Python.
    void close() {
        if (closed_) return;
        if (started_ && !exitcode_ && !poll()) {
            throw std::invalid_argument("mpshm: " + name_ +
                                        ": cannot close a process while it is still running; "
                                        "call join() or terminate() first");
        }
        child_.release();
        target_.reset();
        closed_ = true;
    }

    // What becomes ready when the child ends (Python's sentinel): a pidfd,
    // readable then, on POSIX; the process handle, signalled then, on
    // Windows. Valid until close() or the Process's end.
    using sentinel_type = detail::os::Child::sentinel_type;
    [[nodiscard]] sentinel_type sentinel() {
        check_joinable();
        const std::optional<sentinel_type> s = child_.sentinel();
        if (!s) throw Error("mpshm: " + name_ + ": this kernel has no pidfd for a sentinel");
        return *s;
    }

    // The child's process id (Python's pid). Before start() there is none,
    // and std::logic_error is thrown rather than a number kill() would
    // misread (0 and -1 name whole process groups).
    [[nodiscard]] int pid() const {
        if (!started_)
            throw std::logic_error("mpshm: " + name_ + " has no pid: it was not started");
        return static_cast<int>(child_.pid());
    }
    [[nodiscard]] int ident() const { return pid(); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    void name(std::string name) { name_ = std::move(name); }
    [[nodiscard]] bool daemon() const noexcept { return daemon_; }
    void daemon(bool daemonic) {
        if (started_)
            throw std::logic_error("mpshm: " + name_ + ": daemon must be set before start()");
        daemon_ = daemonic;
    }
    // The start method this process uses (or will use).
    [[nodiscard]] StartMethod start_method() const { return method_.value_or(get_start_method()); }

    // Python's repr: <Process name='Process-1' pid=42 parent=41 stopped exitcode=0>.
    friend std::ostream& operator<<(std::ostream& os, const Process& p) {
        os << "<Process name='" << p.name_ << "'";
        if (p.started_) os << " pid=" << p.child_.pid() << " parent=" << p.starter_pid_;
        if (!p.started_) {
            os << " initial";
        } else if (!p.exitcode_) {
            os << " started";
        } else {
            os << " stopped exitcode=";
            const int code = *p.exitcode_;
            const char* sig = code < 0 ? detail::os::signal_name(-code) : nullptr;
            if (sig != nullptr) {
                os << "-SIG" << sig;
            } else {
                os << code;
            }
        }
        if (p.daemon_) os << " daemon";
        return os << '>';
    }

  private:
    friend void detail::exit_cleanup();

    // The child shares every page with its parent until it writes one, and
    // each page it touches (its code included) costs it a fault: what the
    // child needs is made here, in the parent, and the child only swaps it
    // into place, allocating and freeing nothing.
    void start_fork() {
#if defined(_WIN32)
        // Not reached: the constructor and set_start_method() refuse fork.
        throw std::invalid_argument("mpshm: cannot find context for 'fork'");
#else
        detail::flush_output();  // or the child would print what the parent buffered
        auto& state = detail::process_state();
        std::string child_name = name_;
        std::vector<unsigned> child_identity = identity_;
        const ::pid_t pid = ::fork();
        if (pid < 0) detail::posix::throw_errno("fork");
        if (pid > 0) {
            child_ = detail::os::Child(pid);
            return;
        }
        // The child: its own name and identity, its parent's name, no
        // children yet.
        if (!state.parent) state.parent.emplace();
        state.parent->pid = starter_pid_;
        state.parent->name.swap(state.name);
        state.name.swap(child_name);
        state.identity.swap(child_identity);
        state.daemon = daemon_;
        state.counter = 0;
        state.children.clear();
        const int code = detail::run_target(name_, [this] { target_->run_here(); });
        try {
            detail::exit_cleanup();
        } catch (...) {  // never let the child unwind into its parent's code
        }
        detail::flush_output();
        detail::posix::exit_now(code);  // never the parent's atexit handlers or static destructors
#endif
    }

    void start_spawn() {
        if (target_->entry() == nullptr) {
            throw Error("mpshm: " + name_ +
                        ": the spawn start method needs a target a fresh run of the program can "
                        "find again: a function or a lambda without captures (pass what the lambda "
                        "captures as arguments); this target serves fork only");
        }
        const auto anchor = reinterpret_cast<std::intptr_t>(&detail::spawn_anchor);
        for (const std::intptr_t address : target_->code()) {
            if (!detail::os::same_module(address, anchor)) {
                throw Error("mpshm: " + name_ +
                            ": under spawn the target must be defined in the executable itself "
                            "(not in a shared library), so that a fresh run of it can find it");
            }
        }
        auto& state = detail::process_state();
        detail::Encoder out;
        out.value(detail::spawn_magic);
        out.value(static_cast<std::int64_t>(starter_pid_));
        out.string(state.name);
        out.string(name_);
        out.value(static_cast<std::uint8_t>(daemon_ ? 1 : 0));
        out.value(static_cast<std::uint32_t>(identity_.size()));
        for (const unsigned id : identity_) out.value(static_cast<std::uint32_t>(id));
        out.value(static_cast<std::int64_t>(detail::code_offset(target_->entry())));
        out.value(static_cast<std::int64_t>(target_->target_offset()));
        target_->encode(out);
        detail::flush_output();  // or buffered output could come after the child's
        child_ = detail::os::spawn_child(std::string(detail::spawn_variable) + "=" +
                                         detail::to_hex(out.str()));
    }

    // Polls without blocking; returns whether the child has ended.
    bool poll() {
        if (exitcode_) return true;
        if (const auto code = child_.wait(false)) {
            reaped(*code);
            return true;
        }
        return false;
    }

    void reaped(std::optional<int> code) {
        exitcode_ = code;
        child_.reaped();
        unregister();
    }

    void check_open() const {
        if (closed_) throw std::invalid_argument("mpshm: " + name_ + ": process object is closed");
    }
    void check_joinable() {
        check_open();
        if (!started_)
            throw std::logic_error("mpshm: " + name_ + ": can only join a started process");
        check_parent("join");
    }
    void check_parent(const char* what) const {
        if (starter_pid_ != static_cast<std::int64_t>(detail::os::current_pid())) {
            throw std::logic_error(std::string("mpshm: ") + what +
                                   "() can only be called by the process that started " + name_);
        }
    }

    void unregister() noexcept {
        auto& state = detail::process_state();
        const std::lock_guard lock(state.mutex);
        std::erase(state.children, this);
    }

    // Ends this object's responsibility for a child: join it (terminating a
    // daemon first) if this process started it and it was not reaped.
    void finish() noexcept {
        if (started_ && !exitcode_ && !closed_ &&
            starter_pid_ == static_cast<std::int64_t>(detail::os::current_pid())) {
            try {
                if (daemon_) child_.terminate();
                reaped(child_.wait(true));
            } catch (...) {  // nothing more can be done from a destructor
            }
        }
        child_.release();
        unregister();
    }

    void take(Process& other) noexcept {
        target_ = std::move(other.target_);
        name_ = std::move(other.name_);
        identity_ = std::move(other.identity_);
        daemon_ = other.daemon_;
        method_ = other.method_;
        child_ = std::move(other.child_);
        starter_pid_ = other.starter_pid_;
        exitcode_ = other.exitcode_;
        started_ = std::exchange(other.started_, false);
        closed_ = other.closed_;
        auto& state = detail::process_state();
        const std::lock_guard lock(state.mutex);
        for (auto& child : state.children) {
            if (child == &other) child = this;
        }
    }

    std::unique_ptr<detail::TargetBase> target_;
    std::string name_;
    std::vector<unsigned> identity_;
    bool daemon_ = false;
    std::optional<StartMethod> method_;
    detail::os::Child child_;
    std::int64_t starter_pid_ = 0;
    std::optional<int> exitcode_;
    bool started_ = false;
    bool closed_ = false;
};

namespace detail {

// Python's exit function: at normal exit, terminate daemonic children, then
// join every child.
inline void exit_cleanup() {
    auto& state = process_state();
    std::vector<Process*> children;
    {
        const std::lock_guard lock(state.mutex);
        children = state.children;
    }
    for (Process* p : children) {
        if (p->daemon_ && !p->exitcode_) p->child_.terminate();
    }
    for (Process* p : children) {
        if (!p->exitcode_) p->reaped(p->child_.wait(true));
    }
}

}  // namespace detail

// What current_process() and parent_process() describe; the accessors
// are spelled as Process's.
class ProcessInfo {
  public:
    ProcessInfo(std::string name, std::int64_t pid, bool daemon)
        : name_(std::move(name)), pid_(pid), daemon_(daemon) {}
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] int pid() const noexcept { return static_cast<int>(pid_); }
    [[nodiscard]] int ident() const noexcept { return pid(); }
    [[nodiscard]] bool daemon() const noexcept { return daemon_; }
    // Python's parent_process().is_alive(): the parent still runs.
    [[nodiscard]] bool is_alive() const noexcept { return detail::os::pid_alive(pid_); }

  private:
    std::string name_;
    std::int64_t pid_;
    bool daemon_;
};

// Python's current_process(): MainProcess in the parent, Process-N in a child.
inline ProcessInfo current_process() {
    auto& state = detail::process_state();
    const std::lock_guard lock(state.mutex);
    return ProcessInfo(state.name, static_cast<std::int64_t>(detail::os::current_pid()),
                       state.daemon);
}

// Python's parent_process(): nullopt in the main process.
inline std::optional<ProcessInfo> parent_process() {
    auto& state = detail::process_state();
    const std::lock_guard lock(state.mutex);
    if (!state.parent) return std::nullopt;
    return ProcessInfo(state.parent->name, state.parent->pid, false);
}

// Python's active_children(): the children still running; reaps the rest.
inline std::vector<Process*> active_children() {
    auto& state = detail::process_state();
    std::vector<Process*> children;
    {
        const std::lock_guard lock(state.mutex);
        children = state.children;
    }
    std::vector<Process*> alive;
    for (Process* p : children) {
        if (p->is_alive()) alive.push_back(p);
    }
    return alive;
}

// Python's freeze_support(), and the one line spawn needs: call it first in
// main(). In a process started by spawn it runs the target and exits, never
// returning; anywhere else it does nothing.
inline void freeze_support() {
    const char* hex = std::getenv(detail::spawn_variable.data());
    if (hex == nullptr) return;
    const std::optional<std::string> payload = detail::from_hex(hex);
    detail::os::unset_environment(detail::spawn_variable.data());  // not for its own children
    auto& state = detail::process_state();
    state.spawned = true;
    int code = 1;
    try {
        if (!payload) throw Error("mpshm: spawned process: its start-up message is malformed");
        detail::Decoder in(*payload);
        if (in.value<std::uint32_t>() != detail::spawn_magic) {
            throw Error("mpshm: spawned process: its start-up message is not mpshm's");
        }
        detail::ParentInfo parent;
        parent.pid = in.value<std::int64_t>();
        parent.name = in.string();
        state.parent = parent;
        state.name = in.string();
        state.daemon = in.value<std::uint8_t>() != 0;
        const auto depth = in.value<std::uint32_t>();
        if (depth > 1024) throw Error("mpshm: spawned process: malformed identity");
        state.identity.clear();
        for (std::uint32_t i = 0; i < depth; ++i)
            state.identity.push_back(in.value<std::uint32_t>());
        const auto entry_offset = in.value<std::int64_t>();
        const auto target_offset = in.value<std::int64_t>();
        // Both offsets must land in this program's code, and the entry be
        // one of those its Process forms registered, before either is called.
        auto* entry =
            detail::program_code_at<void(std::uintptr_t, detail::Decoder&)>(entry_offset);
        auto* target = detail::program_code_at<void()>(target_offset);
        if (entry == nullptr || target == nullptr || detail::spawn_entries().count(entry) == 0) {
            throw Error("mpshm: spawned process " + state.name +
                        ": its target is not in this program (is it the same executable as its "
                        "parent?)");
        }
        code = detail::run_target(
            state.name, [&] { entry(reinterpret_cast<std::uintptr_t>(target), in); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        code = 1;
    }
    try {
        detail::exit_cleanup();
    } catch (...) {  // never let the child unwind into main()
    }
    detail::flush_output();
    std::exit(code);
}

namespace detail {
// A spawned child whose main() does not call freeze_support() first runs
// its target at the first call of this process API that main() makes
// (Process, the start methods), after saying so: Python raises RuntimeError
// there, and only what main() did before it runs twice. Never from the
// constructor of a shared object: those run before main() for objects at
// namespace scope, which a spawned child makes afresh, as Python re-creates
// a module's objects, before its target can run.
inline void dispatch_if_spawned() {
    if (!spawned_by_mpshm || process_state().spawned) [[likely]]
        return;
    std::fprintf(stderr,
                 "mpshm: this process was started by spawn, but main() did not call "
                 "mpshm::freeze_support() first: what main() did before its first Process or "
                 "start-method call ran again here. Call mpshm::freeze_support() as the first "
                 "line of main().\n");
    std::fflush(stderr);
    freeze_support();
}
}  // namespace detail

// Python's get_context(method): a start method for the processes made through it.
class Context {
  public:
    explicit Context(StartMethod method) : method_(method) {}
    [[nodiscard]] StartMethod get_start_method() const noexcept { return method_; }

    template <typename F, typename... Args>
    requires(!std::same_as<std::remove_cvref_t<F>, ProcessOptions>) mpshm::Process
        Process(F&& target, Args&&... args)
    const {
        return mpshm::Process(ProcessOptions{.start_method = method_}, std::forward<F>(target),
                              std::forward<Args>(args)...);
    }
    template <typename F, typename... Args>
    mpshm::Process Process(ProcessOptions options, F&& target, Args&&... args) const {
        options.start_method = method_;
        return mpshm::Process(options, std::forward<F>(target), std::forward<Args>(args)...);
    }

  private:
    StartMethod method_;
};

// Python's get_context(method); fork where there is none (Windows) is
// Python's ValueError: std::invalid_argument.
inline Context get_context(StartMethod method) {
    detail::check_start_method(method);
    return Context(method);
}
inline Context get_context() {
    return Context(get_start_method());
}

}  // namespace mpshm
