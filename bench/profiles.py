"""py-spy on a benchmark's server process: record while it is under load, then the top frames.

    from profiles import Profiler
    with Profiler(pid, seconds, out_path) as profiler: ...load...
    print(profiler.report())

py-spy samples the process from outside (no code changes; `--idle` off: only
frames on the CPU), writes collapsed stacks ("f1;f2;f3 count" lines), and the
report lists the frames with the most samples of their own (self) and in
their stack (total). Without py-spy (`pip install -e '.[bench]'`) it reports so
and the benchmark goes on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLE_RATE_HZ = 200
STOP_TIMEOUT_S = 30.0
TOP = 15
CALLERS_FROM = 0.05   # an own share from which the report shows the frame's usual callers
# The frames every sample of a server sits in: not worth a line of the report.
SPINE = {"<module>", "_run_code", "_run_module_as_main", "main", "serve", "run", "Runner.run",
         "BaseEventLoop.run_forever", "BaseEventLoop.run_until_complete", "BaseEventLoop._run_once",
         "Handle._run", "Server.serve", "Server._serve", "Server.main_loop"}
_LOCATION = re.compile(r"\s*\((?P<file>[^:()]+):\d+\)$")


class Profiler:
    def __init__(self, pid: int, seconds: float, out: Path, *, subprocesses: bool = False) -> None:
        self.pid, self.seconds, self.out = pid, seconds, out
        self.subprocesses = subprocesses
        self.proc: subprocess.Popen | None = None
        self.py_spy = py_spy()
        self.missing = self.py_spy is None

    def __enter__(self) -> "Profiler":
        if not self.missing:
            cmd = [self.py_spy, "record", "--pid", str(self.pid), "--duration", str(max(1, int(self.seconds))),
                   "--rate", str(SAMPLE_RATE_HZ), "--format", "raw", "--output", str(self.out),
                   "--nonblocking"]
            if self.subprocesses:
                cmd.append("--subprocesses")
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=self.seconds + STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def report(self, title: str, top: int = TOP) -> str:
        if self.missing:
            return f"{title}: py-spy is not installed (pip install -e '.[bench]')"
        if not self.out.exists():
            return f"{title}: py-spy wrote nothing (ptrace not allowed?)"
        collapsed = self.out.read_text(errors="replace")
        return top_frames(collapsed, title, top) + "\n" + access_share(collapsed)


# Where access control works (authenticate, match the route, budget, audit), and the frames
# that mean a sample has gone on into the rest of the request (the app, or sending).
ACCESS_FRAMES = ("api/authentication.py", "/gridjobs/access/", "api/route_match.py", "api/principal.py")
PAST_ACCESS = ("stream_limit.py", "inflight.py", "applications.py", "resources.py", "body_limit.py",
               "api/operations.py", "intake.py", "httptools_impl.py", "h11_impl.py", "request_metrics.py",
               "middleware/errors.py", "proxy_headers.py")


def access_share(collapsed: str) -> str:
    """The share of samples spent in access control itself: a sample counts when its
    innermost access frame is not followed by a frame of the rest of the request. On a
    CPU-bound server, removing that work would raise throughput by at most 1/(1-share)."""
    samples = inside = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        marks = [i for i, f in enumerate(frames) if any(a in f for a in ACCESS_FRAMES)]
        if marks and not any(p in f for f in frames[marks[-1] + 1:] for p in PAST_ACCESS):
            inside += int(count)
    if not samples or not inside:
        return "  access control: no samples"
    share = inside / samples
    return (f"  access control (authenticate, route match, budget, audit): {100 * share:.1f} % of samples; "
            f"throughput without it at most {1 / (1 - share):.3f}x")


def py_spy() -> str | None:
    """py-spy beside this Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def _short(frame: str) -> str:
    """`func (path/to/module.py:12)` as `func (module.py)`: the line varies within a function."""
    match = _LOCATION.search(frame)
    if match is None:
        return frame.strip()
    return f"{frame[:match.start()].strip()} ({Path(match['file']).name})"


def top_frames(collapsed: str, title: str, top: int = TOP) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    callers: dict[str, Counter[str]] = {}
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))] or frames
        samples += n
        own[frames[-1]] += n
        callers.setdefault(frames[-1], Counter())[" < ".join(reversed(frames[-5:-1]))] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return f"{title}: no samples"
    lines = [f"{title}: {samples} samples; top frames by own samples (%), then by total (%)"]
    for frame, n in own.most_common(top):
        lines.append(f"  own {100 * n / samples:5.1f}  {frame}")
        if n >= samples * CALLERS_FROM:
            via, m = callers[frame].most_common(1)[0]
            lines.append(f"            mostly ({100 * m / n:.0f} %) < {via}")
    spine = [f for f, n in total.items() if f.split(" (")[0] in SPINE]
    for frame in spine:
        del total[frame]
    lines += [f"  tot {100 * n / samples:5.1f}  {f}" for f, n in total.most_common(top)]
    return "\n".join(lines)
