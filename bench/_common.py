"""Helpers shared by the benchmark scripts (run.py skips files starting with "_"): ports, scratch databases,
local webhook receivers and optional py-spy profiles. No Django import here: callers set the environment first."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "bench" / "profiles"

# A webhook receiver that answers 200 at once, one process per port (aiohttp, as in bench/deliver.py).
RECEIVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web

    async def hook(request):
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
    """
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def start_receivers(count):
    """`count` receiver processes; returns (urls, processes)."""
    ports = [free_port() for _ in range(count)]
    procs = [subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)]) for port in ports]
    for port, proc in zip(ports, procs):
        wait_for_port(port, proc)
    return [f"http://127.0.0.1:{port}/hook" for port in ports], procs


def stop(procs, timeout=15):
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def postgres_base():
    """The server part of DATABASE_URL when it names PostgreSQL, else None."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return url.rpartition("/")[0] if url.startswith("postgres") else None


class ScratchPostgres:
    """CREATE DATABASE name on the server of `base`, DROP ... WITH (FORCE) on close. Never touches another database."""

    def __init__(self, base, name):
        import psycopg

        self.base, self.name = base, name
        self.url = f"{base}/{name}"
        self.admin = psycopg.connect(f"{base}/postgres", autocommit=True)
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.execute(f'CREATE DATABASE "{name}"')

    def close(self):
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


def server_versions():
    """PostgreSQL and RabbitMQ versions for RESULTS.md (best effort: a report, not a requirement)."""
    versions = {}
    base = postgres_base() or "postgres://postgres@127.0.0.1:5432"
    try:
        import psycopg

        with psycopg.connect(f"{base}/postgres", connect_timeout=3) as conn:
            versions["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except Exception as exc:  # noqa: BLE001
        versions["PostgreSQL"] = f"unavailable ({type(exc).__name__})"
    try:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(os.environ.get("AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/"))
        versions["RabbitMQ"] = str(conn._impl.server_properties.get("version", "?"))
        conn.close()
    except Exception as exc:  # noqa: BLE001
        versions["RabbitMQ"] = f"unavailable ({type(exc).__name__})"
    return versions


def py_spy():
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy attached to a running process while a measurement lasts, when BENCH_PROFILE is set: writes
    bench/profiles/<name>.txt (where the CPU time goes: top frames, self and inclusive). A no-op otherwise.
    BENCH_PROFILE=gil samples only the thread holding the GIL: where a process whose threads take turns spends it."""

    def __init__(self, name, pid):
        self.proc = None
        if not os.environ.get("BENCH_PROFILE"):
            return
        spy = py_spy()
        if not spy:
            print("BENCH_PROFILE is set but py-spy is not installed (pip install -r requirements-dev.txt)")
            return
        PROFILES.mkdir(exist_ok=True)
        self.name, self.raw = name, PROFILES / f"{name}.collapsed"
        self.proc = subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--output", str(self.raw), "--nonblocking",
             *(["--gil"] if os.environ["BENCH_PROFILE"] == "gil" else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # attached before the measurement starts

    def finish(self, note=""):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return
        if self.raw.exists():
            text = summarize_collapsed(self.raw.read_text(), self.name, note)
            (PROFILES / f"{self.name}.txt").write_text(text)
            self.raw.unlink()
            print(f"profile written to bench/profiles/{self.name}.txt")


def _frame(name):
    # py-spy raw frames look like "function (path/to/file.py:123)": keep "function (short/path.py)".
    func, _, where = name.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.replace(str(ROOT) + "/", "")
    return f"{func} ({path})"


def summarize_collapsed(text, name, note="", top=25):
    """Collapsed stacks ("a;b;c count" per line) -> the frames where CPU samples were spent, self and inclusive."""
    self_counts, incl_counts, total = {}, {}, 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_frame(f) for f in stack.split(";")]
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for frame in set(frames):
            incl_counts[frame] = incl_counts.get(frame, 0) + n
    sampled = ("samples of the thread holding the GIL" if os.environ.get("BENCH_PROFILE") == "gil"
               else "CPU samples (idle threads not counted)")
    lines = [f"py-spy profile of {name}: {total} {sampled} at 250 Hz. {note}".rstrip(), ""]
    lines.append("Self time (the frame itself was on CPU):")
    for frame, n in sorted(self_counts.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * n / max(total, 1):5.1f}%  {frame}")
    lines += ["", "Inclusive time (the frame or what it called was on CPU):"]
    for frame, n in sorted(incl_counts.items(), key=lambda kv: -kv[1])[: top * 2]:
        lines.append(f"  {100 * n / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def rss_mb(pid=None):
    """Resident memory of a process (this one by default) in MiB, from /proc."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def memory_result(first, last, factor):
    """The `memory` field of a RESULT: resident memory after the run and after a run `factor` times as long."""
    growth = (last - first) / first * 100 if first else float("nan")
    return {"first_mb": round(first, 1), "last_mb": round(last, 1), "growth_pct": round(growth, 1), "factor": factor,
            "flat": abs(growth) <= 10}


# --- where the machine's CPU goes during a measurement ------------------------------------------------------------
CPU_GROUPS = ("this process", "PostgreSQL", "RabbitMQ", "other")


def machine_cpu() -> dict:
    """CPU seconds (user + system) used so far by this process, by PostgreSQL's processes, by RabbitMQ's (the Erlang
    VM) and by every other process, from /proc. A process that ended since the last call is not counted."""
    tick = os.sysconf("SC_CLK_TCK")
    own = str(os.getpid())
    found = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        group = ("this process" if pid == own else "PostgreSQL" if name.startswith("postgres")
                 else "RabbitMQ" if name in ("beam.smp", "erl_child_setup", "epmd", "inet_gethost") else "other")
        found[pid] = (group, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_per_item(before: dict, after: dict, items: int) -> dict:
    """µs of CPU per item per group between two machine_cpu() readings (a process started in between counts whole)."""
    spent = dict.fromkeys(CPU_GROUPS, 0.0)
    for pid, (group, seconds) in after.items():
        spent[group] += seconds - before.get(pid, (group, 0.0))[1]
    return {group: round(seconds / items * 1e6, 1) for group, seconds in spent.items()}


def cpu_line(split: dict) -> str:
    return ", ".join(f"{group} {split[group]:.0f}" for group in CPU_GROUPS)


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far, every core, from /proc/stat: busy is all but idle and
    iowait. Two readings give the share of the machine a measurement kept busy (busy_share)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(fields)
    return total - fields[3] - fields[4], total


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share (0..1) of all the machine's cores that was busy between two machine_ticks() readings."""
    busy, total = after[0] - before[0], after[1] - before[1]
    return busy / total if total else float("nan")


def settle(limit=0.2, longest=90) -> float:
    """Wait until the machine is quiet (under `limit` of all cores busy over a second), at most `longest` seconds: what
    one measurement leaves behind (RabbitMQ deleting queues that held 200,000 messages, PostgreSQL's checkpoint and
    autovacuum after a large insert) must not be measured as the next one's. Returns the seconds waited."""
    started = time.monotonic()
    try:
        while time.monotonic() - started < longest:
            before = machine_ticks()
            time.sleep(1.0)
            if busy_share(before, machine_ticks()) < limit:
                break
    except (OSError, ValueError):  # no /proc/stat: nothing to wait for
        pass
    return time.monotonic() - started


def paced(rate, seconds, send_one):
    """Call send_one(seq) `rate` times a second for `seconds`, on a fixed schedule (no drift)."""
    total = int(rate * seconds)
    start = time.perf_counter()
    for seq in range(total):
        target = start + seq / rate
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        send_one(seq)
    return time.perf_counter() - start
