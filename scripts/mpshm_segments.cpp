// mpshm-segments: ipcs and ipcrm for mpshm. Lists mpshm's segments (name,
// size, kind, type, creator and whether it is alive) and removes those a
// dead creator left behind.
// SPDX-License-Identifier: MIT
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <mpshm/segments.hpp>

namespace {

const char* usage =
    "usage: mpshm-segments [--all]       list mpshm's segments (--all: every one in /dev/shm)\n"
    "       mpshm-segments --clean       remove the segments whose creator died without\n"
    "                                    removing them (tracked mpshm objects only)\n"
    "       mpshm-segments --remove NAME...   remove the named segments\n";

const char* creator_state(const mpshm::SegmentInfo& info) {
    switch (info.creator) {
        case mpshm::SegmentInfo::Creator::alive:
            return "alive";
        case mpshm::SegmentInfo::Creator::dead:
            return "dead";
        case mpshm::SegmentInfo::Creator::unknown:
            break;
    }
    return "-";
}

void print_table(const std::vector<mpshm::SegmentInfo>& segments) {
    std::size_t width = 4;
    for (const auto& s : segments) width = std::max(width, s.name.size());
    std::printf("%-*s %12s %-9s %-22s %8s %-7s %-7s %5s %4s\n", static_cast<int>(width), "NAME",
                "SIZE", "KIND", "TYPE", "CREATOR", "STATE", "TRACKED", "UID", "MODE");
    for (const auto& s : segments) {
        const std::string pid = s.creator_pid ? std::to_string(*s.creator_pid) : "-";
        std::printf("%-*s %12zu %-9s %-22s %8s %-7s %-7s %5u %04o\n", static_cast<int>(width),
                    s.name.c_str(), s.size, s.kind.c_str(), s.type.empty() ? "-" : s.type.c_str(),
                    pid.c_str(), creator_state(s), s.creator_pid ? (s.tracked ? "yes" : "no") : "-",
                    s.uid, s.mode);
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::vector<std::string> args(argv + 1, argv + argc);
        if (args.empty() || (args.size() == 1 && args[0] == "--all")) {
            print_table(mpshm::list_segments(!args.empty()));
            return 0;
        }
        if (args.size() == 1 && args[0] == "--clean") {
            const auto removed = mpshm::remove_dead_segments();
            for (const auto& s : removed) {
                std::printf("removed %s (%s, creator %lld is dead)\n", s.name.c_str(),
                            s.kind.c_str(), static_cast<long long>(s.creator_pid.value_or(0)));
            }
            std::printf("%zu segment%s removed\n", removed.size(), removed.size() == 1 ? "" : "s");
            return 0;
        }
        if (args.size() >= 2 && args[0] == "--remove") {
            int failures = 0;
            for (std::size_t i = 1; i < args.size(); ++i) {
                if (const int err = mpshm::detail::os::unlink_segment(args[i]); err != 0) {
                    std::fprintf(stderr, "mpshm-segments: cannot remove '%s': %s\n",
                                 args[i].c_str(), std::strerror(err));
                    ++failures;
                } else {
                    std::printf("removed %s\n", args[i].c_str());
                }
            }
            return failures == 0 ? 0 : 1;
        }
        std::fputs(usage, args.size() == 1 && args[0] == "--help" ? stdout : stderr);
        return args.size() == 1 && args[0] == "--help" ? 0 : 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mpshm-segments: %s\n", e.what());
        return 1;
    }
}
