"""Run the test suite tier by tier, each a pytest run of its own, and time each against the budget.

    .venv/bin/python -m tests.tiers [--tier unit] [--workers N] [pytest arguments...]

unit  everything not marked e2e or web: in-process, spread over the cores with pytest-xdist
e2e   marked e2e outside tests/web: real server, worker and servers (tests/e2e/stack.py), one at a time
web   tests/web (marker `web`, set by tests/conftest.py): chromium against a real stack, one at a time

Every tier runs even after one fails, so one log shows every failure; the exit status is non-zero if
any tier failed. Arguments it does not know (-k, -x, paths) go to every tier's pytest.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

BUDGET_SECONDS = 30 * 60  # the whole suite on 2 cores, as `make test` runs it in CI
DURATIONS = "--durations=25"  # each tier's slowest tests, so the budget is watched

OK, NO_TESTS = 0, 5  # pytest's exit statuses
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Its closing line, with or without -q: "==== 3 failed, 948 passed, 2 skipped in 301.52s (0:05:01) ====".
CLOSING = re.compile(r"^=*\s*(?P<counts>(?:\d+ \w+(?:, )?)+) in [\d.]+s\b")
COUNT = re.compile(r"(\d+) (\w+)")


@dataclass(frozen=True)
class Tier:
    name: str
    args: tuple[str, ...]
    parallel: bool = False  # spread over pytest-xdist workers: only in-process tests, no stacks


TIERS = (
    Tier("unit", ("-m", "not e2e and not web"), parallel=True),
    Tier("e2e", ("-m", "e2e and not web")),
    Tier("web", ("-m", "web")),
)


@dataclass
class Result:
    tier: str
    status: int
    seconds: float
    counts: Counter[str] = field(default_factory=Counter)
    narrowed: bool = False  # the caller passed pytest arguments (-k, paths), which may choose none here

    @property
    def ok(self) -> bool:
        # A tier the caller's -k or paths leave empty is fine; one that is empty by itself has lost its
        # tests (a marker no longer set) and must not pass silently.
        return self.status == OK or (self.status == NO_TESTS and self.narrowed)

    def line(self) -> str:
        # "deselected" is the other tiers' tests: by design, not news.
        shown = ", ".join(f"{n} {w}" for w, n in self.counts.items() if w != "deselected") or "no tests"
        failed = "" if self.ok else f" (FAILED, pytest exit status {self.status})"
        return f"tier {self.tier}: {shown} in {clock(self.seconds)}{failed}"


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    return len(os.sched_getaffinity(0))


def counts(closing_line: str) -> Counter[str]:
    """{"passed": 948, "failed": 3, ...} from pytest's closing line ("error" becomes "errors")."""
    found: Counter[str] = Counter()
    for n, word in COUNT.findall(closing_line):
        found["errors" if word == "error" else word] += int(n)
    return found


def command(tier: Tier, workers: int, extra: Sequence[str]) -> list[str]:
    cmd = [sys.executable, "-m", "pytest", DURATIONS, *tier.args]
    if sys.stdout.isatty():  # pytest writes into a pipe here, and would drop its colours
        cmd.append("--color=yes")
    if tier.parallel and workers > 1:
        # worksteal: a worker that runs out takes queued tests from the other, so one slow file
        # at the end of a worker's share does not leave a core idle.
        cmd += ["-n", str(workers), "--dist", "worksteal"]
    return [*cmd, *extra]


def run(tier: Tier, workers: int, extra: Sequence[str]) -> Result:
    """Run one tier, passing its output through, and read the counts from its closing line."""
    cmd = command(tier, workers, extra)
    print(f"\n===== tier {tier.name}: {' '.join(cmd[1:])}", flush=True)
    start = time.monotonic()
    closing = ""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if CLOSING.match(ANSI.sub("", line)):
                closing = ANSI.sub("", line)
        status = proc.wait()
    return Result(tier.name, status, time.monotonic() - start, counts(closing), narrowed=bool(extra))


def report(results: Sequence[Result], seconds: float) -> list[str]:
    lines = ["", "===== tiers"]
    lines += [r.line() for r in results]
    over = "" if seconds <= BUDGET_SECONDS else " (OVER BUDGET)"
    lines.append(f"total {clock(seconds)} of {clock(BUDGET_SECONDS)} budget{over}")
    if failed_tiers := [r.tier for r in results if not r.ok]:
        lines.append(f"FAILED tiers: {', '.join(failed_tiers)}")
    total = sum((r.counts for r in results), Counter[str]())
    # The last line alone is "N passed, N failed", the form CI reads a run's counts from.
    skipped = f", {total['skipped']} skipped" if total["skipped"] else ""
    lines.append(f"tiers: {total['passed']} passed, {total['failed'] + total['errors']} failed{skipped}")
    return lines


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m tests.tiers",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        allow_abbrev=False,  # else --w (a pytest option's prefix) would be taken for --workers
    )
    names = [t.name for t in TIERS]
    parser.add_argument(
        "--tier", action="append", choices=names, help="run only this tier (repeatable); default: all"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=cores(),
        help="xdist workers for the parallel tier; default: the cores this process may use (%(default)s)",
    )
    return parser.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options, extra = parse(sys.argv[1:] if argv is None else argv)
    chosen = [t for t in TIERS if options.tier is None or t.name in options.tier]
    start = time.monotonic()
    results: list[Result] = []
    try:
        for tier in chosen:
            results.append(run(tier, options.workers, extra))
    except KeyboardInterrupt:  # pytest got the same Ctrl-C and has reported; no more tiers
        print("\n".join(report(results, time.monotonic() - start)), flush=True)
        return 130
    print("\n".join(report(results, time.monotonic() - start)), flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
