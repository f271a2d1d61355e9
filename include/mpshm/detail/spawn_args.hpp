// mpshm: how a Process argument travels to a child: by copy under fork, as
// bytes (values) or as a segment name (shared objects) under spawn.
// SPDX-License-Identifier: MIT
#pragma once

#include <concepts>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <mpshm/errors.hpp>
#include <mpshm/shared_memory.hpp>
#include <mpshm/type_tag.hpp>

namespace mpshm::detail {

// The bytes a spawned child receives, written and read in order.
class Encoder {
  public:
    void bytes(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    template <typename T>
    void value(const T& x) {
        bytes(&x, sizeof x);
    }
    void string(std::string_view s) {
        value(static_cast<std::uint64_t>(s.size()));
        bytes(s.data(), s.size());
    }
    [[nodiscard]] const std::string& str() const noexcept { return out_; }

  private:
    std::string out_;
};

// Reads what an Encoder wrote; running past the end means the payload is not
// what this program would have sent, which is reported, never read past.
class Decoder {
  public:
    explicit Decoder(std::string_view in) : in_(in) {}
    void bytes(void* p, std::size_t n) {
        if (n > in_.size() - pos_) throw Error("mpshm: spawned process: truncated arguments");
        std::memcpy(p, in_.data() + pos_, n);
        pos_ += n;
    }
    template <typename T>
    T value() {
        T x;
        bytes(&x, sizeof x);
        return x;
    }
    std::string string() {
        const auto n = value<std::uint64_t>();
        if (n > in_.size() - pos_) throw Error("mpshm: spawned process: truncated arguments");
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    [[nodiscard]] bool done() const noexcept { return pos_ == in_.size(); }

  private:
    std::string_view in_;
    std::size_t pos_ = 0;
};

// A shared object another process reaches by name: Value, Array, Lock, ...
template <typename T>
concept AttachableByName = std::copy_constructible<T> && requires(const T& t, std::string_view n) {
    { t.name() } -> std::convertible_to<std::string_view>;
    { T::attach(n) } -> std::same_as<T>;
};

// How an argument of type T is kept by a Process and handed to its child.
//   stored:      what the Process keeps until the child is started
//   live(s):     the argument the child's target receives
//   encode/decode: its journey to a spawned child
// Specialise it for your own types to make them travel.
template <typename T, typename = void>
struct arg_traits {
    static constexpr bool travels = false;
};

template <typename T>
struct arg_traits<T, std::enable_if_t<AttachableByName<T>>> {
    static constexpr bool travels = true;
    using stored = T;  // a copy shares the segment
    static stored store(const T& x) { return x; }
    static T live(const stored& s) { return s; }
    static void encode(const stored& s, Encoder& out) { out.string(s.name()); }
    static T decode(Decoder& in) { return T::attach(in.string()); }
};

// SharedMemory is move-only. The Process keeps a mapping of its own from
// construction on, which a fork()ed child uses as it is, even if the name has
// been unlinked meanwhile; a spawned child attaches by name, so under spawn
// the name must still exist at start() (as in Python).
template <>
struct arg_traits<SharedMemory> {
    static constexpr bool travels = true;
    using stored = std::shared_ptr<SharedMemory>;
    static stored store(const SharedMemory& shm) {
        return std::make_shared<SharedMemory>(shm.name());
    }
    static SharedMemory& live(const stored& mapping) { return *mapping; }
    static void encode(const stored& mapping, Encoder& out) { out.string(mapping->name()); }
    static SharedMemory decode(Decoder& in) { return SharedMemory(in.string()); }
};

template <>
struct arg_traits<std::string> {
    static constexpr bool travels = true;
    using stored = std::string;
    static stored store(const std::string& s) { return s; }
    static std::string live(const stored& s) { return s; }
    static void encode(const stored& s, Encoder& out) { out.string(s); }
    static std::string decode(Decoder& in) { return in.string(); }
};

// Plain values (numbers, enums, pointer-free structs) travel as their bytes.
template <typename T>
struct arg_traits<T, std::enable_if_t<!AttachableByName<T> && Shareable<T>>> {
    static constexpr bool travels = true;
    using stored = T;
    static stored store(const T& x) { return x; }
    static T live(const stored& s) { return s; }
    static void encode(const stored& s, Encoder& out) { out.value(s); }
    static T decode(Decoder& in) { return in.template value<T>(); }
};

}  // namespace mpshm::detail

namespace mpshm::detail {

// A string literal becomes a std::string, as a Python str would.
template <>
struct arg_traits<const char*> {
    static constexpr bool travels = true;
    using stored = std::string;
    static stored store(const char* s) { return s; }
    static std::string live(const stored& s) { return s; }
    static void encode(const stored& s, Encoder& out) { out.string(s); }
    static std::string decode(Decoder& in) { return in.string(); }
};
template <>
struct arg_traits<char*> : arg_traits<const char*> {};

}  // namespace mpshm::detail
