#!/usr/bin/env python3
"""CPython's multiprocessing doing what mpshm's benchmarks do, for comparison.

Prints JSON to stdout:

    {"benchmarks": [{"name": ..., "ns_per_op": <median over repetitions>,
                     "runs": [<each repetition's ns_per_op>, ...], ...}]}

ns_per_op is wall-clock nanoseconds per operation: per locked increment, per
process start+join, per create+unlink or attach+close, per list operation, per
item through the queue. Each benchmark checks its result exactly and fails
(exit status 1, naming it) on a mismatch. Progress goes to stderr.

    python3 bench/python_peers.py [--repetitions R] [--scale S] [--filter REGEX]

--scale multiplies the operation counts (0.01 for a smoke run of seconds).
Standard library only; CPython 3.11. Leaves /dev/shm as it found it.
"""

import argparse
import json
import multiprocessing
import re
import statistics
import sys
import time
from multiprocessing import shared_memory

FORK = multiprocessing.get_context("fork")
SPAWN = multiprocessing.get_context("spawn")

# Operation counts at --scale 1.0, chosen so that the whole default run
# (5 repetitions) stays under a minute on two cores.
CONTENDED_TOTAL = 80_000  # increments per run, shared among the P processes
FORKS = 50
SPAWNS = 4  # about 80 ms each
SHM_OPS = 2_000
SHM_SIZE = 4096  # as bench/shared_memory_bench.cpp
LIST_OPS = 3_000
LIST_LENGTH = 1024  # as bench/managers_bench.cpp
QUEUE_ITEMS = 20_000


class CheckFailed(Exception):
    pass


def check(ok, what):
    if not ok:
        raise CheckFailed(what)


def count(base, scale):
    return max(1, round(base * scale))


# ---- targets: module level, so that a spawned child can import them ---------


def noop():
    pass


def increment_worker(v, k, ready, go):
    ready.release()
    go.wait()
    for _ in range(k):
        with v.get_lock():
            v.value += 1


def queue_producer(q, n, ready, go):
    ready.release()
    go.wait()
    for i in range(n):
        q.put(i)


# ---- benchmarks: each returns the ns_per_op of one run -------------------------


def contended_value_get_lock(processes, k):
    v = FORK.Value("q", 0)
    ready = FORK.Semaphore(0)
    go = FORK.Event()
    workers = [
        FORK.Process(target=increment_worker, args=(v, k, ready, go)) for _ in range(processes)
    ]
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire()
    start = time.perf_counter_ns()
    go.set()
    for w in workers:
        w.join()
    elapsed = time.perf_counter_ns() - start
    check(all(w.exitcode == 0 for w in workers), "a worker failed")
    check(v.value == processes * k, f"value is {v.value}, expected {processes * k}")
    return elapsed / (processes * k)


def process_start_join(ctx, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        check(p.exitcode == 0, f"a child exited with {p.exitcode}")
    return (time.perf_counter_ns() - start) / n


def shm_create_unlink(n):
    start = time.perf_counter_ns()
    for _ in range(n):
        shm = shared_memory.SharedMemory(create=True, size=SHM_SIZE)
        shm.close()
        shm.unlink()
    return (time.perf_counter_ns() - start) / n


def shm_attach_close(n):
    owner = shared_memory.SharedMemory(create=True, size=SHM_SIZE)
    try:
        owner.buf[0] = 42
        seen = 0
        start = time.perf_counter_ns()
        for _ in range(n):
            shm = shared_memory.SharedMemory(name=owner.name)
            seen += shm.buf[0]
            shm.close()
        elapsed = time.perf_counter_ns() - start
    finally:
        owner.close()
        owner.unlink()
    check(seen == 42 * n, "an attached segment did not show the owner's byte")
    return elapsed / n


def list_append(manager, n):
    lst = manager.list()
    start = time.perf_counter_ns()
    for i in range(n):
        lst.append(i)
    elapsed = time.perf_counter_ns() - start
    values = lst[:]  # one round trip; iterating the proxy would make one per element
    check(len(values) == n and sum(values) == n * (n - 1) // 2, "the list lost an append")
    return elapsed / n


def list_get(manager, n):
    lst = manager.list(range(LIST_LENGTH))
    total = 0
    start = time.perf_counter_ns()
    for i in range(n):
        total += lst[i % LIST_LENGTH]
    elapsed = time.perf_counter_ns() - start
    expected = sum(i % LIST_LENGTH for i in range(n))
    check(total == expected, "a read returned a wrong element")
    return elapsed / n


def list_plus_equals(manager, n):
    lst = manager.list([0] * LIST_LENGTH)
    start = time.perf_counter_ns()
    for i in range(n):
        lst[i % LIST_LENGTH] += 1
    elapsed = time.perf_counter_ns() - start
    total = sum(lst[:])
    check(total == n, f"the elements add up to {total}, expected {n}")
    return elapsed / n


def queue_roundtrip(n):
    q = FORK.Queue()
    ready = FORK.Semaphore(0)
    go = FORK.Event()
    producer = FORK.Process(target=queue_producer, args=(q, n, ready, go))
    producer.start()
    ready.acquire()
    total = in_order = 0
    start = time.perf_counter_ns()
    go.set()
    for i in range(n):
        x = q.get()
        total += x
        in_order += x == i  # one producer: first in, first out
    elapsed = time.perf_counter_ns() - start
    producer.join()
    check(producer.exitcode == 0, "the producer failed")
    check(
        total == n * (n - 1) // 2 and in_order == n and q.empty(),
        "the items that arrived are not the items put",
    )
    q.close()
    q.join_thread()
    return elapsed / n


# ---- driver ------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--filter", default="", help="run only the benchmarks this regex finds")
    args = parser.parse_args()
    if args.repetitions < 1 or args.scale <= 0:
        parser.error("--repetitions must be at least 1 and --scale positive")
    s = args.scale

    manager = None

    def shared_manager():  # one server process for the list benchmarks, started untimed
        nonlocal manager
        if manager is None:
            manager = FORK.Manager()
        return manager

    benchmarks = []  # (name, operations per run, a function running one run)
    for p in (1, 2, 4, 8):
        k = count(CONTENDED_TOTAL / p, s)
        benchmarks.append(
            (
                f"python/contended/value_get_lock/processes:{p}",
                p * k,
                lambda p=p, k=k: contended_value_get_lock(p, k),
            )
        )
    forks, spawns = count(FORKS, s), count(SPAWNS, s)
    shm_ops, list_ops, queue_items = count(SHM_OPS, s), count(LIST_OPS, s), count(QUEUE_ITEMS, s)
    benchmarks += [
        ("python/process/fork", forks, lambda: process_start_join(FORK, forks)),
        ("python/process/spawn", spawns, lambda: process_start_join(SPAWN, spawns)),
        ("python/shared_memory/create_unlink", shm_ops, lambda: shm_create_unlink(shm_ops)),
        ("python/shared_memory/attach_close", shm_ops, lambda: shm_attach_close(shm_ops)),
        ("python/manager/list_append", list_ops, lambda: list_append(shared_manager(), list_ops)),
        ("python/manager/list_get", list_ops, lambda: list_get(shared_manager(), list_ops)),
        (
            "python/manager/list_plus_equals",
            list_ops,
            lambda: list_plus_equals(shared_manager(), list_ops),
        ),
        ("python/queue/roundtrip", queue_items, lambda: queue_roundtrip(queue_items)),
    ]
    selected = re.compile(args.filter)
    benchmarks = [b for b in benchmarks if selected.search(b[0])]

    results = []
    started = time.monotonic()
    try:
        for name, ops, run in benchmarks:
            t0 = time.monotonic()
            run()  # warm-up, not reported: the resource tracker, the manager, caches
            runs = [run() for _ in range(args.repetitions)]
            median = statistics.median(runs)
            results.append(
                {"name": name, "ns_per_op": median, "runs": runs, "ops_per_run": ops}
            )
            print(
                f"{name:48} {median:14.1f} ns/op  ({time.monotonic() - t0:.1f} s)",
                file=sys.stderr,
            )
    except CheckFailed as e:
        print(f"python_peers.py: {name}: {e}", file=sys.stderr)
        return 1
    finally:
        if manager is not None:
            manager.shutdown()

    json.dump(
        {
            "context": {
                "python": sys.version.split()[0],
                "cpu_count": multiprocessing.cpu_count(),
                "repetitions": args.repetitions,
                "scale": s,
                "seconds": round(time.monotonic() - started, 3),
            },
            "benchmarks": results,
        },
        sys.stdout,
        indent=2,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
