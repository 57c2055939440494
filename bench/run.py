"""Run every benchmark under bench/ and write bench/RESULTS.md (machine, date, commit, each figure and its ceiling).

    python bench/run.py [--only NAME ...] [--timeout SECONDS]

Each benchmark is a script bench/NAME.py run as its own process; it prints what it measured and ends with one line
`RESULT {json}` holding name, figure, unit, ceiling (measured in the same run), ratio, target and target_met. This
file is written by the script, never by hand.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ORDER = ["matching", "ingest", "deliver", "dispatch", "viewer"]  # the rest follow by name


def scripts(only):
    found = {p.stem: p for p in BENCH.glob("*.py") if p.stem not in {"run", "__init__"} and not p.stem.startswith("_")}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    return [(n, found[n]) for n in names if not only or n in only]


def run_one(name, path, timeout):
    started = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        output, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        output += f"\n(timed out after {timeout} s)"
        code = "timeout"
    result = None
    for line in output.splitlines():
        if line.startswith("RESULT "):
            try:
                result = json.loads(line[len("RESULT "):])
            except ValueError:
                pass
    shown = "\n".join(line for line in output.splitlines() if not line.startswith("RESULT ")).strip()
    return {"name": name, "code": code, "seconds": time.monotonic() - started, "output": shown, "result": result}


def fmt(value):
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return "" if value is None else str(value)


def write_results(runs, path):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or "?"
    store = "PostgreSQL" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "SQLite"
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}; not edited by hand.",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}; store: {store}; commit {commit}.",
        "",
        "| benchmark | figure | ceiling (same run) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        r = run["result"] or {}
        if not r:
            lines.append(f"| {run['name']} | failed ({run['code']}) | | | | no |")
            continue
        unit = r.get("unit", "")
        lines.append(
            f"| {run['name']} | {fmt(r.get('figure'))} {unit} | {fmt(r.get('ceiling'))} {r.get('ceiling_unit', unit)} | "
            f"{fmt(r.get('ratio'))} | {r.get('target', '')} | {'yes' if r.get('target_met') else 'no'} |"
        )
    for run in runs:
        lines += ["", f"## {run['name']} ({run['seconds']:.0f} s)", "", "```", run["output"] or "(no output)", "```"]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the benchmarks and write bench/RESULTS.md.")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names (default: all)")
    parser.add_argument("--timeout", type=int, default=240, help="seconds per benchmark")
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"))
    args = parser.parse_args(argv)
    runs = []
    for name, path in scripts(args.only):
        print(f"== {name}", flush=True)
        run = run_one(name, path, args.timeout)
        print(run["output"], flush=True)
        runs.append(run)
    write_results(runs, Path(args.output))
    print(f"\nwrote {args.output}")
    return 0 if all(r["result"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
