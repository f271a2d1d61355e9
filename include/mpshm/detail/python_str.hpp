// mpshm: Python's str and bytes as C++ sees them: strict UTF-8 as CPython
// decodes it, and repr() of str and bytes character for character.
// SPDX-License-Identifier: MIT
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace mpshm::detail {

// Reads one code point of S at I as CPython's strict UTF-8 decoder accepts
// it (no overlong forms, no surrogates, nothing past U+10FFFF) and advances
// I past it. Returns false, leaving I alone, on anything else.
inline bool utf8_next(std::string_view s, std::size_t& i, char32_t& cp) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80U) {
        cp = b0;
        ++i;
        return true;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80U;  // the range allowed for the second byte
    unsigned char hi = 0xBFU;
    if (b0 >= 0xC2U && b0 <= 0xDFU) {
        len = 2;
    } else if (b0 >= 0xE0U && b0 <= 0xEFU) {
        len = 3;
        if (b0 == 0xE0U) lo = 0xA0U;  // overlong
        if (b0 == 0xEDU) hi = 0x9FU;  // surrogates
    } else if (b0 >= 0xF0U && b0 <= 0xF4U) {
        len = 4;
        if (b0 == 0xF0U) lo = 0x90U;  // overlong
        if (b0 == 0xF4U) hi = 0x8FU;  // past U+10FFFF
    } else {
        return false;
    }
    if (s.size() - i < len) return false;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return false;
    char32_t value = b0 & (0xFFU >> (len + 1));
    for (std::size_t k = 1; k < len; ++k) {
        const unsigned char b = byte(i + k);
        if ((b & 0xC0U) != 0x80U) return false;
        value = (value << 6U) | (b & 0x3FU);
    }
    cp = value;
    i += len;
    return true;
}

// len() of the Python str that the UTF-8 text S decodes to, or nullopt if
// CPython would refuse to decode (or, as a str, encode) it.
inline std::optional<std::size_t> utf8_length(std::string_view s) {
    std::size_t count = 0;
    char32_t cp = 0;
    for (std::size_t i = 0; i < s.size(); ++count) {
        if (!utf8_next(s, i, cp)) return std::nullopt;
    }
    return count;
}

// Code points that str.isprintable() rejects although they are assigned:
// the categories Cc, Cf, Zs (but the space), Zl, Zp, Cs and Co as of Unicode
// 14 (CPython 3.11), plus the noncharacters. Other unassigned code points
// print as themselves here, where CPython escapes them too.
inline bool python_is_printable(char32_t cp) {
    struct Range {
        char32_t first;
        char32_t last;
    };
    static constexpr Range non_printable[] = {
        {0x0, 0x1F},        {0x7F, 0xA0},         {0xAD, 0xAD},       {0x600, 0x605},
        {0x61C, 0x61C},     {0x6DD, 0x6DD},       {0x70F, 0x70F},     {0x890, 0x891},
        {0x8E2, 0x8E2},     {0x1680, 0x1680},     {0x180E, 0x180E},   {0x2000, 0x200F},
        {0x2028, 0x202F},   {0x205F, 0x2064},     {0x2066, 0x206F},   {0x3000, 0x3000},
        {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},     {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},
        {0xFFFE, 0xFFFF},   {0x110BD, 0x110BD},   {0x110CD, 0x110CD}, {0x13430, 0x13438},
        {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},   {0xE0001, 0xE0001}, {0xE0020, 0xE007F},
        {0xF0000, 0xFFFFF}, {0x100000, 0x10FFFF},
    };
    const auto* it = std::upper_bound(std::begin(non_printable), std::end(non_printable), cp,
                                      [](char32_t c, const Range& r) { return c < r.first; });
    if (it == std::begin(non_printable)) return true;
    --it;
    return cp > it->last;
}

inline void append_hex(std::string& out, std::uint32_t value, int digits) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
        out += hex[(value >> static_cast<unsigned>(shift)) & 0xFU];
    }
}

// Python's choice of quotes for str and bytes: single, unless the text has a
// single quote and no double quote.
inline char python_quote_for(std::string_view s) {
    const bool single = s.find('\'') != std::string_view::npos;
    const bool dbl = s.find('"') != std::string_view::npos;
    return single && !dbl ? '"' : '\'';
}

// repr() of the Python str whose UTF-8 encoding is S: 'it', "it's",
// 'tab\t', '\x00', 'é', '\u200b'. Bytes that are not UTF-8 (which no str
// holds) come out as \x escapes of the bytes.
inline std::string python_str_repr(std::string_view s) {
    const char quote = python_quote_for(s);
    std::string out(1, quote);
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t start = i;
        char32_t cp = 0;
        if (!utf8_next(s, i, cp)) {
            out += "\\x";
            append_hex(out, static_cast<unsigned char>(s[i]), 2);
            ++i;
            continue;
        }
        if (cp == static_cast<char32_t>(quote) || cp == U'\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == U'\t') {
            out += "\\t";
        } else if (cp == U'\n') {
            out += "\\n";
        } else if (cp == U'\r') {
            out += "\\r";
        } else if (cp >= 0x20U && (cp < 0x7FU || (cp > 0x7FU && python_is_printable(cp)))) {
            out.append(s.substr(start, i - start));  // printable: as it is
        } else if (cp <= 0xFFU) {                    // control characters, DEL, unprintable Latin-1
            out += "\\x";
            append_hex(out, cp, 2);
        } else if (cp <= 0xFFFFU) {
            out += "\\u";
            append_hex(out, cp, 4);
        } else {
            out += "\\U";
            append_hex(out, cp, 8);
        }
    }
    out += quote;
    return out;
}

// repr() of Python bytes: b'x', b"it's", b'\x00\xff'.
inline std::string python_bytes_repr(std::string_view s) {
    const char quote = python_quote_for(s);
    std::string out = "b";
    out += quote;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == quote || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\t') {
            out += "\\t";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (u < 0x20U || u >= 0x7FU) {
            out += "\\x";
            append_hex(out, u, 2);
        } else {
            out += c;
        }
    }
    out += quote;
    return out;
}

}  // namespace mpshm::detail
