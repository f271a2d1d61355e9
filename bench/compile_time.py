#!/usr/bin/env python3
"""What a header-only library costs every user's build: the time g++ takes to
compile a three-line program through mpshm's headers, against the same kind
of program written on Boost.Interprocess, measured by turns in one run.

    bench/compile_time.py [--repetitions N] [--cxx g++] [--include DIR]

Prints JSON in python_peers.py's form ({"benchmarks": [{"name", "ns_per_op"}]}),
one entry per program (the median wall time of a compile, in ns) plus, for
information, the preprocessed lines and headers of each. compare.py runs it
and puts the ratios in README's table.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Three lines each: mpshm's make a shared counter, add to it and read it back.
PROGRAMS = {
    # The yardstick: Boost.Interprocess's segment and mutex headers,
    # and a mutex used (what mpshm's Value brings: a segment and a lock).
    "boost": """
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
int main() {
    boost::interprocess::interprocess_mutex m;
    m.lock();
    m.unlock();
}
""",
    "value_hpp": """
#include <mpshm/value.hpp>
int main() {
    mpshm::Value<int> v(0);
    v += 1;
    return v.load() == 1 ? 0 : 1;
}
""",
    "mpshm_hpp": """
#include <mpshm/mpshm.hpp>
int main() {
    mpshm::Value<int> v(0);
    v += 1;
    return v.load() == 1 ? 0 : 1;
}
""",
}


def compile_once(cxx, include, source, obj):
    start = time.monotonic()
    subprocess.run([cxx, "-std=c++20", "-O2", "-I", str(include), "-c", str(source), "-o",
                    str(obj)], check=True)
    return (time.monotonic() - start) * 1e9


def preprocessed(cxx, include, source):
    """(lines, distinct headers) of the preprocessed program."""
    out = subprocess.run([cxx, "-std=c++20", "-O2", "-I", str(include), "-E", "-H", str(source)],
                         check=True, capture_output=True, text=True)
    headers = {line.lstrip(". ").strip() for line in out.stderr.splitlines()
               if line.startswith(".")}
    return out.stdout.count("\n"), len(headers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--cxx", default="g++")
    parser.add_argument("--include", default=str(HERE.parent / "include"))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        sources = {}
        for name, text in PROGRAMS.items():
            sources[name] = work / f"{name}.cpp"
            sources[name].write_text(text)
        times = {name: [] for name in PROGRAMS}
        for _ in range(max(1, args.repetitions)):
            for name, source in sources.items():  # by turns: the machine's mood hits all alike
                times[name].append(compile_once(args.cxx, args.include, source,
                                                work / f"{name}.o"))
        benchmarks = []
        for name, source in sources.items():
            lines, headers = preprocessed(args.cxx, args.include, source)
            benchmarks.append({"name": f"compile/{name}",
                               "ns_per_op": statistics.median(times[name]),
                               "preprocessed_lines": lines, "headers": headers})
    json.dump({"benchmarks": benchmarks}, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
