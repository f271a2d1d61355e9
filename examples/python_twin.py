#!/usr/bin/env python3
"""Runs one Python snippet of the seed documents and its C++ twin, and
compares their standard output.

    python_twin.py SEEDS_DIR INDEX CPP_PROGRAM [--vary numbers] [--vary order]

INDEX counts the ```python blocks of the seed documents, in file-name order,
from 1. --vary names what may legitimately differ between runs of the Python
snippet, normalised on both sides before comparing: "numbers" produced by
racing processes, and "interleaving" of lines that several processes print
at once (Python's print writes the text and the newline separately, so one
process's line can land inside another's: only the multiset of what they
printed is compared). The snippets
stay in the seed documents: nothing of them is copied into the repository.
Exits 0 when the outputs match, 1 when they differ, 77 (skipped) when the
seed documents are not there.
"""
import pathlib
import re
import subprocess
import sys
import tempfile

SKIP = 77


def snippets(seeds_dir):
    blocks = []
    for path in sorted(pathlib.Path(seeds_dir).glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        blocks += re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return blocks


def normalise(text, vary, prefix):
    if "numbers" in vary:
        text = re.sub(r"\d+", "N", text)
    if "interleaving" in vary:
        # Every line starts with PREFIX: cut the whole output at each one.
        head, *pieces = text.replace("\n", "").split(prefix)
        return "\n".join([head] + sorted(prefix + piece for piece in pieces)) + "\n"
    return text


def common_prefix(lines):
    if not lines:
        return ""
    first, last = min(lines), max(lines)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


def main():
    seeds_dir, index, program = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    vary = sys.argv[5::2] if len(sys.argv) > 4 else []
    if not pathlib.Path(seeds_dir).is_dir():
        print(f"skipped: no seed documents at {seeds_dir}")
        return SKIP
    blocks = snippets(seeds_dir)
    if index > len(blocks):
        print(f"the seed documents hold {len(blocks)} Python snippets, not {index}")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        script = pathlib.Path(tmp) / f"snippet_{index}.py"
        script.write_text(blocks[index - 1], encoding="utf-8")
        python = subprocess.run([sys.executable, str(script)], cwd=tmp, capture_output=True,
                                text=True, timeout=120)
    cpp = subprocess.run([program], capture_output=True, text=True, timeout=120)
    if python.returncode != 0 or cpp.returncode != 0:
        print(f"exit codes: python {python.returncode}, C++ {cpp.returncode}")
        print(python.stderr, cpp.stderr)
        return 1
    prefix = common_prefix(normalise(cpp.stdout, [v for v in vary if v == "numbers"], "").splitlines())
    expected, actual = normalise(python.stdout, vary, prefix), normalise(cpp.stdout, vary, prefix)
    if expected != actual:
        print("Python printed:\n" + python.stdout + "\nC++ printed:\n" + cpp.stdout)
        print("compared as:\n" + expected + "\nand\n" + actual)
        return 1
    print("C++ prints what Python prints" + (f" (normalising {', '.join(vary)})" if vary else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
