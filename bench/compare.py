#!/usr/bin/env python3
"""Runs mpshm's benchmarks and their peers (raw system calls, Boost, CPython)
side by side, in one run on one machine, and compares them.

Prints a table of medians (ns per operation) and same-run ratios against each
target, writes every median as JSON, draws the contended-increment curves as
a PNG (with gnuplot, when installed), and can put the table into README.md.

    scripts/bench.sh                 # builds Release benchmarks, then runs this
    bench/compare.py --build-dir DIR [--repetitions N] [--quick] [--out DIR]
                     [--update-readme README.md]

--quick runs every benchmark once, briefly: the test suite uses it so that
the benchmarks and this script cannot rot. The exit status is non-zero when
a benchmark fails or reports an error (a lost update, a wrong copy), never
because a target is missed: machines differ, the table says which.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The Google Benchmark programs compare.py runs, with their own settings.
PROGRAMS = {
    "contended_bench": ["--benchmark_min_time=0.2"],
    "process_bench": ["--benchmark_min_time=0.5"],
    "shared_memory_bench": ["--benchmark_min_time=0.2"],
    "array_bench": ["--benchmark_min_time=0.1"],
    "managers_bench": ["--benchmark_min_time=0.2"],
}

PROCESSES = [1, 2, 4, 8]
COPY_SIZES = [1 << 10, 64 << 10, 1 << 20, 64 << 20]


def at_most(limit):
    return (lambda r: r <= limit), f"<= {limit:g}x"


def at_least(limit):
    return (lambda r: r >= limit), f">= {limit:g}x"


def comparisons():
    """(section, operation, mpshm benchmark, peer benchmark, peer label,
    ratio kind, check). Ratio kind "slowdown" is mpshm/peer (lower is
    better), "speedup" is peer/mpshm (higher is better)."""
    rows = []
    c = "contended/{}/processes:{}"
    rlock = "Value += 1 (RLock)"
    # (what, mpshm variant, peer name for P, peer label, kind, target for P)
    contended = [
        (rlock, "value_rlock", lambda p: c.format("raw_pthread_mutex", p), "raw pthread mutex",
         "slowdown", lambda p: at_most(1.10) if p <= 2 else None),
        (rlock, "value_rlock", lambda p: c.format("raw_robust_pthread_mutex", p),
         "robust pthread mutex", "slowdown", lambda p: None),
        (rlock, "value_rlock", lambda p: c.format("boost_interprocess_mutex", p),
         "Boost interprocess_mutex", "slowdown", lambda p: None),
        ("Value<int64_t, Lock> += 1", "value_lock", lambda p: c.format("raw_pthread_mutex", p),
         "raw pthread mutex", "slowdown", lambda p: None),
        (rlock, "value_rlock", lambda p: f"python/contended/value_get_lock/processes:{p}",
         "CPython Value + get_lock()", "speedup", lambda p: at_least(30) if p <= 4 else None),
        ("Value::fetch_add(1)", "value_fetch_add", lambda p: c.format("raw_atomic", p),
         "raw std::atomic", "slowdown", lambda p: at_most(1.05)),
    ]
    for what, variant, peer, peer_label, kind, target in contended:
        for p in PROCESSES:
            rows.append(("Contended increments", f"{what}, P={p}", c.format(variant, p), peer(p),
                         peer_label, kind, target(p)))
    rows.append(("Contended increments", "Value += 1 (RLock), P=8",
                 c.format("value_rlock", 8), c.format("value_rlock", 2),
                 "itself at P=2", "slowdown", at_most(1.5)))
    rows += [
        ("Process start + join", "fork", "process/fork/mpshm", "process/fork/raw",
         "raw fork + _exit + waitpid", "slowdown", at_most(1.2)),
        ("Process start + join", "fork", "process/fork/mpshm", "python/process/fork",
         "CPython Process (fork)", "speedup", at_least(8)),
        ("Process start + join", "spawn", "process/spawn/mpshm", "process/spawn/raw",
         "raw posix_spawn, same executable", "slowdown", at_most(1.3)),
        ("Process start + join", "spawn", "process/spawn/mpshm", "python/process/spawn",
         "CPython Process (spawn)", "speedup", at_least(30)),
        ("SharedMemory", "create + unlink", "BM_SharedMemory_CreateUnlink",
         "BM_Raw_CreateUnlink", "raw shm_open/ftruncate/mmap", "slowdown", at_most(1.3)),
        ("SharedMemory", "create + unlink", "BM_SharedMemory_CreateUnlink",
         "python/shared_memory/create_unlink", "CPython SharedMemory", "speedup",
         at_least(3)),
        ("SharedMemory", "attach + close", "BM_SharedMemory_AttachClose",
         "BM_Raw_AttachClose", "raw shm_open/mmap", "slowdown", None),
        ("SharedMemory", "attach + close", "BM_SharedMemory_AttachClose",
         "python/shared_memory/attach_close", "CPython SharedMemory", "speedup", None),
    ]
    for op, name in [("append", "list_append"), ("lst[i]", "list_get"),
                     ("lst[i] += 1", "list_plus_equals")]:
        rows.append(("Manager list", op, f"manager/{name}/mpshm", f"python/manager/{name}",
                     "CPython manager.list()", "speedup", at_least(100)))
    rows += [
        ("Queue", "put + get, 8-byte items, 2 processes", "queue/roundtrip/mpshm",
         "python/queue/roundtrip", "CPython Queue", "speedup", at_least(20)),
        ("Array", "a[i] += 1 (RLock)", "array/increment/mpshm", "array/increment/raw_atomic",
         "raw std::atomic", "slowdown", None),
    ]
    rows += [
        ("Compile time", "#include <mpshm/value.hpp>, a 3-line program (g++ -O2)",
         "compile/value_hpp", "compile/boost", "the same on Boost.Interprocess", "slowdown",
         at_most(1.5)),
        ("Compile time", "#include <mpshm/mpshm.hpp>, a 3-line program (g++ -O2)",
         "compile/mpshm_hpp", "compile/boost", "the same on Boost.Interprocess", "slowdown",
         at_most(2.5)),
    ]
    for n in COPY_SIZES:
        label = f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"
        rows.append(("Array bulk copy", f"assign (a[:] = v), {label}", f"array/copy/mpshm/{n}",
                     f"array/copy/memcpy/{n}", "memcpy", "slowdown", at_most(1.25)))
        rows.append(("Array bulk copy", f"copy_to, {label}", f"array/copy_out/mpshm/{n}",
                     f"array/copy_out/memcpy/{n}", "memcpy", "slowdown", at_most(1.25)))
    return rows


def run(cmd, what):
    print(f"compare.py: running {what}", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"compare.py: {what} failed with exit status {proc.returncode}")
    return json.loads(proc.stdout)


def google_benchmark_medians(binary, extra, repetitions):
    """{name: median ns per operation} from one Google Benchmark program."""
    cmd = [str(binary), "--benchmark_format=json", *extra]
    if repetitions > 1:
        cmd += [f"--benchmark_repetitions={repetitions}",
                "--benchmark_report_aggregates_only=true"]
    report = run(cmd, binary.name)
    per_unit = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
    medians, errors = {}, []
    for b in report["benchmarks"]:
        name = b.get("run_name", b["name"]).replace("/manual_time", "")
        if b.get("error_occurred"):
            errors.append(f"{name}: {b.get('error_message', 'error')}")
            continue
        if repetitions > 1 and b.get("aggregate_name") != "median":
            continue
        if "ns_per_op" in b:
            medians[name] = float(b["ns_per_op"])
        else:
            medians[name] = float(b["real_time"]) * per_unit[b["time_unit"]]
    return medians, errors


def python_medians(repetitions, scale):
    cmd = [sys.executable, str(HERE / "python_peers.py"), f"--repetitions={repetitions}",
           f"--scale={scale}"]
    report = run(cmd, "python_peers.py (CPython's multiprocessing)")
    return {b["name"]: float(b["ns_per_op"]) for b in report["benchmarks"]}


def compile_medians(repetitions):
    cmd = [sys.executable, str(HERE / "compile_time.py"), f"--repetitions={repetitions}"]
    report = run(cmd, "compile_time.py (compiling through mpshm's headers and Boost's)")
    return {b["name"]: float(b["ns_per_op"]) for b in report["benchmarks"]}


def human(ns):
    for unit, size in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= size:
            return f"{ns / size:.3g} {unit}"
    return f"{ns:.3g} ns"


def build_table(medians):
    table, missing = [], []
    for section, op, mine, peer, peer_label, kind, check in comparisons():
        if mine not in medians or peer not in medians:
            missing.append(mine if mine not in medians else peer)
            continue
        a, b = medians[mine], medians[peer]
        ratio = a / b if kind == "slowdown" else b / a
        row = {"section": section, "operation": op, "mpshm": mine, "peer": peer,
               "peer_label": peer_label, "mpshm_ns": a, "peer_ns": b, "kind": kind,
               "ratio": ratio, "target": None, "met": None}
        if check is not None:
            row["target"] = check[1]
            row["met"] = bool(check[0](ratio))
        table.append(row)
    return table, missing


def markdown(table):
    lines = ["| what | mpshm | peer | peer time | ratio | target |",
             "|---|---|---|---|---|---|"]
    for r in table:
        ratio = (f"{r['ratio']:.2f}x slower" if r["kind"] == "slowdown"
                 else f"{r['ratio']:.3g}x faster")
        if r["kind"] == "slowdown" and r["ratio"] < 1:
            ratio = f"{r['ratio']:.2f}x (faster)"
        target = "" if r["target"] is None else (
            f"{r['target']} {'met' if r['met'] else '**missed**'}")
        lines.append(f"| {r['section']}: {r['operation']} | {human(r['mpshm_ns'])} | "
                     f"{r['peer_label']} | {human(r['peer_ns'])} | {ratio} | {target} |")
    return "\n".join(lines)


CONTENDED_VARIANTS = [
    ("value_rlock", "mpshm Value += 1 (robust RLock)"),
    ("value_lock", "mpshm Value += 1 (robust Lock)"),
    ("value_fetch_add", "mpshm Value::fetch_add"),
    ("raw_atomic", "raw std::atomic"),
    ("raw_pthread_mutex", "raw pthread mutex"),
    ("raw_robust_pthread_mutex", "raw robust pthread mutex"),
    ("boost_interprocess_mutex", "Boost interprocess_mutex"),
]


def plot(medians, out):
    """Draws ns per increment against P; returns the PNG's path or None."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        print("compare.py: gnuplot not found (apt-get install gnuplot-nox): no plot",
              file=sys.stderr)
        return None
    series = [(k, label) for k, label in CONTENDED_VARIANTS]
    series.append(("python", "CPython Value + get_lock()"))
    data = out / "contended.dat"
    with data.open("w") as f:
        f.write("# P " + " ".join(k for k, _ in series) + "\n")
        for p in PROCESSES:
            row = [str(p)]
            for key, _ in series:
                name = (f"python/contended/value_get_lock/processes:{p}" if key == "python"
                        else f"contended/{key}/processes:{p}")
                row.append(f"{medians[name]:.3f}" if name in medians else "NaN")
            f.write(" ".join(row) + "\n")
    png = out / "contended.png"
    plots = ", ".join(
        f"'{data}' using 1:{i + 2} with linespoints title '{label}'"
        for i, (_, label) in enumerate(series))
    script = f"""
set terminal png size 1100,560 noenhanced
set output '{png}'
set title 'Contended increments of one shared 64-bit counter (2 cores; medians)'
set xlabel 'processes'
set ylabel 'ns per increment (log scale)'
set logscale y
set logscale x 2
set xrange [0.8:10]
set xtics (1, 2, 4, 8)
set key outside right
set grid
plot {plots}
"""
    proc = subprocess.run([gnuplot], input=script, text=True)
    if proc.returncode != 0 or not png.exists():
        print("compare.py: gnuplot failed: no plot", file=sys.stderr)
        return None
    return png


def update_readme(readme, table_md, command):
    start, end = "<!-- bench-table:start -->", "<!-- bench-table:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        sys.exit(f"compare.py: {readme} has no {start} ... {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    body = f"{start}\nMade by `{command}` on {time.strftime('%Y-%m-%d')}:\n\n{table_md}\n{end}"
    readme.write_text(head + body + tail)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="build/bench",
                        help="the CMake build directory holding bench/")
    parser.add_argument("--repetitions", type=int, default=5,
                        help="repetitions per benchmark; medians are reported")
    parser.add_argument("--quick", action="store_true",
                        help="one short repetition of everything (a smoke test)")
    parser.add_argument("--out", default=None,
                        help="where to write results.json, contended.png (default BUILD/results)")
    parser.add_argument("--update-readme", metavar="README", default=None,
                        help="replace the table between the bench-table markers")
    args = parser.parse_args()

    bench_dir = Path(args.build_dir) / "bench"
    out = Path(args.out) if args.out else Path(args.build_dir) / "results"
    out.mkdir(parents=True, exist_ok=True)
    repetitions = 1 if args.quick else args.repetitions

    started = time.monotonic()
    medians, errors = {}, []
    for program, extra in PROGRAMS.items():
        binary = bench_dir / program
        if not binary.exists():
            sys.exit(f"compare.py: {binary} not found: build the benchmarks first "
                     "(scripts/bench.sh does)")
        if args.quick:
            extra = ["--benchmark_min_time=0.001"]
        found, failed = google_benchmark_medians(binary, extra, repetitions)
        medians.update(found)
        errors += failed
    medians.update(python_medians(repetitions, 0.02 if args.quick else 1.0))
    medians.update(compile_medians(repetitions))

    table, missing = build_table(medians)
    table_md = markdown(table)
    print(table_md)
    png = plot(medians, out)
    results = {
        "machine": {"cpus": os.cpu_count(), "uname": " ".join(os.uname())},
        "repetitions": repetitions,
        "quick": args.quick,
        "medians_ns_per_op": medians,
        "comparisons": table,
        "errors": errors,
        "missing": missing,
        "seconds": round(time.monotonic() - started, 1),
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"\ncompare.py: {len(table)} comparisons in {results['seconds']} s; "
          f"results in {out / 'results.json'}" + (f", plot in {png}" if png else ""),
          file=sys.stderr)
    missed = [r for r in table if r["met"] is False]
    if missed:
        print(f"compare.py: {len(missed)} target(s) missed on this machine:", file=sys.stderr)
        for r in missed:
            print(f"  {r['section']}: {r['operation']} vs {r['peer_label']}: "
                  f"{r['ratio']:.2f}x, target {r['target']}", file=sys.stderr)
    if args.update_readme and not args.quick:
        readme = Path(args.update_readme)
        update_readme(readme, table_md, "scripts/bench.sh --update-readme README.md")
        if png:  # the plot README shows
            shutil.copyfile(png, readme.parent / "bench" / "contended.png")
    if errors or missing:
        for e in errors:
            print(f"compare.py: benchmark error: {e}", file=sys.stderr)
        for m in missing:
            print(f"compare.py: no result for {m}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
