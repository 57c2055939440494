"""Mutation testing of the pure cores: `.venv/bin/python tests/mutation.py` (after the README's test set-up).

Runs mutmut (setup.cfg names the modules, subscriptions/core/*, and the unit tests that cover them) from a clean
slate and prints, per module, how many mutants the tests killed. Exits 1 when a module scores under the target or a
surviving mutant is not listed in tests/mutation_survivors.md with the reason it is harmless.

mutmut keeps its verdicts in mutants/ and, on a later run, does not re-judge a mutant whose code is unchanged even
when the tests changed; so each run starts afresh unless --keep is given. While writing tests, --retry keeps the
last run's verdicts and re-judges only the mutants it did not catch (a test added can kill a mutant, never revive
one). --module (repeatable) mutates and reports only the named modules (`--module matching`); --no-run only reads
the last run's results.
"""

import argparse
import collections
import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.90
SURVIVORS = ROOT / "tests" / "mutation_survivors.md"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
# A mutant that makes a test hang is caught too: the suite would time out.
CAUGHT = {"killed", "timeout"}


def mutmut(*args, **kwargs):
    return subprocess.run([MUTMUT, *args], cwd=ROOT, text=True, **kwargs)


def configured_modules():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    paths = config["mutmut"]["source_paths"].split()
    return [p.removesuffix(".py").replace("/", ".") for p in paths]


def selected_modules(names):
    """The configured modules named on the command line (all when none is); exits on a name not configured."""
    configured = configured_modules()
    if not names:
        return configured
    chosen = []
    for name in names:
        found = [m for m in configured if name in (m, m.rsplit(".", 1)[-1])]
        if not found:
            sys.exit(f"{name} is not a module in setup.cfg [mutmut] source_paths: {', '.join(configured)}")
        chosen += found
    return chosen


def results():
    """{mutant name: status} of the last run, every mutant included."""
    out = mutmut("results", "--all", "true", capture_output=True)
    if out.returncode:
        sys.exit(f"mutmut results failed:\n{out.stderr}")
    return dict(re.findall(r"^\s*(\S+): (.+?)\s*$", out.stdout, re.M))


def module_of(name):
    # subscriptions.core.signing.x_sign__mutmut_3; a method's mutant: ...matching.xǁRoutingIndexǁroute__mutmut_1
    return re.split(r"\.x_|\.xǁ", name, maxsplit=1)[0]


def explained_survivors():
    """{mutant name: why it is harmless} from the survivors file (`- `name`: why`)."""
    if not SURVIVORS.exists():
        return {}
    return dict(re.findall(r"^- `([^`]+)`: (.+)$", SURVIVORS.read_text(), re.M))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse mutmut's verdicts of the last run (mutants/)")
    parser.add_argument("--retry", action="store_true", help="keep the last run's verdicts, re-judge what it did not catch")
    parser.add_argument("--no-run", action="store_true", help="only report the last run's results")
    parser.add_argument("--max-children", type=int, help="parallel mutmut workers (default: one per CPU)")
    parser.add_argument("--module", action="append", default=[], metavar="NAME",
                        help="only this module (`matching` or `subscriptions.core.matching`); repeatable")
    args = parser.parse_args()
    modules = selected_modules(args.module)
    if not args.no_run:
        command = ["run"] + (["--max-children", str(args.max_children)] if args.max_children else [])
        if args.retry:
            names = [n for n, status in results().items() if module_of(n) in modules and status not in CAUGHT]
            command += names
        elif args.module:
            # mutmut names a mutant `module.x_function__mutmut_N` or `module.xǁClassǁmethod__mutmut_N`.
            command += [f"{module}.x*" for module in modules]
        if not (args.keep or args.retry):
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        if not args.retry or names:
            run = mutmut(*command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if run.returncode:  # e.g. "Failed to run clean test": the unit tests must pass unmutated first
                sys.exit(f"mutmut run failed:\n{run.stdout[-4000:]}")

    explained = explained_survivors()
    counts = collections.defaultdict(collections.Counter)
    unexplained = []
    statuses = results()
    for name, status in sorted(statuses.items()):
        if module_of(name) not in modules:
            continue
        counts[module_of(name)][status] += 1
        if status not in CAUGHT and name not in explained:
            unexplained.append(f"{name}: {status}")
    stale = sorted(n for n in explained if module_of(n) in modules and statuses.get(n, "killed") in CAUGHT)

    print(f"{'module':34} {'killed':>7} {'total':>6} {'score':>7}")
    low = []
    all_caught = all_total = 0
    for module in modules:
        caught = sum(counts[module][s] for s in CAUGHT)
        total = sum(counts[module].values())
        all_caught, all_total = all_caught + caught, all_total + total
        score = caught / total if total else 0.0
        if score < TARGET:
            low.append(module)
        others = ", ".join(f"{n} {s}" for s, n in sorted(counts[module].items()) if s not in CAUGHT)
        print(f"{module:34} {caught:7} {total:6} {score:7.1%}  {others}")
    print(f"{'all':34} {all_caught:7} {all_total:6} {all_caught / max(all_total, 1):7.1%}  (target: {TARGET:.0%} each)")

    if low:
        print(f"\nUnder {TARGET:.0%}: {', '.join(low)}")
    if unexplained:
        print(f"\n{len(unexplained)} surviving mutants are not explained in {SURVIVORS.relative_to(ROOT)} "
              "(see one with `mutmut show NAME`; add a test, or a line `- `NAME`: why it is harmless`):")
        print("\n".join(f"  {line}" for line in unexplained))
    if stale:
        print(f"\n{len(stale)} mutants listed in {SURVIVORS.relative_to(ROOT)} are gone or now killed (remove them):")
        print("\n".join(f"  {name}" for name in stale))
    return 1 if low or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
