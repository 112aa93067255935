"""tests/tiers.py, the runner of `make test`: every tier runs, its counts are read, a failure fails it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests import tiers

ROOT = Path(__file__).resolve().parents[1]

SAMPLE = """
import pytest

def test_one():
    pass

@pytest.mark.skip(reason="sample")
def test_skipped():
    pass

@pytest.mark.e2e
def test_e2e_fails():
    assert False

@pytest.mark.web
def test_web():
    pass
"""


def test_counts_read_pytests_closing_line() -> None:
    line = "==== 3 failed, 948 passed, 2 skipped, 1 error, 40 deselected in 301.52s (0:05:01) ===="
    assert tiers.CLOSING.match(line)
    assert tiers.counts(line) == {"failed": 3, "passed": 948, "skipped": 2, "errors": 1, "deselected": 40}
    assert tiers.CLOSING.match("951 passed in 3.02s")  # -q
    assert not tiers.CLOSING.match("tests/test_db.py ....                [ 40%]")


def test_only_the_unit_tier_is_spread_over_workers() -> None:
    unit, e2e, web = tiers.TIERS
    assert [*tiers.command(unit, 2, ["-k", "x"])[3:]] == [
        "--durations=25", "-m", "not e2e and not web", "-n", "2", "--dist", "worksteal", "-k", "x",
    ]  # fmt: skip
    assert "-n" not in tiers.command(e2e, 2, []) and "-n" not in tiers.command(web, 2, [])
    assert "-n" not in tiers.command(unit, 1, [])  # one core: no worker processes to pay for


INI = """
[pytest]
markers =
    e2e: as in pyproject.toml
    web: as in pyproject.toml
"""


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A folder of four tests with a configuration of its own: one per tier, one failing, one skipped."""
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    return tmp_path


def test_every_tier_runs_after_a_failure_and_the_run_fails(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tiers.main(["--workers", "1", str(sample), "-p", "no:cacheprovider"])
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert re.fullmatch(r"tier unit: 1 passed, 1 skipped in 0:\d\d", out[-6])
    assert re.fullmatch(r"tier e2e: 1 failed in 0:\d\d \(FAILED, pytest exit status 1\)", out[-5])
    assert re.fullmatch(r"tier web: 1 passed in 0:\d\d", out[-4])
    assert re.fullmatch(r"total 0:\d\d of 30:00 budget", out[-3])
    assert out[-2:] == ["FAILED tiers: e2e", "tiers: 2 passed, 1 failed, 1 skipped"]


def test_a_tier_left_empty_by_the_callers_arguments_passes(
    sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tiers.main(["--tier", "web", "--workers", "1", str(sample), "-k", "nothing_is_called_this"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert re.fullmatch(r"tier web: no tests in 0:\d\d", out[-3])
    assert out[-1] == "tiers: 0 passed, 0 failed"


def test_a_tier_empty_by_itself_fails() -> None:
    """Without -k or paths a tier that selects nothing has lost its marker: not a silent pass."""
    assert not tiers.Result("web", tiers.NO_TESTS, 1.0).ok
    assert tiers.Result("web", tiers.NO_TESTS, 1.0, narrowed=True).ok


def test_the_browser_tests_are_marked_web() -> None:
    """`-m "not web"` deselects every test of tests/web: the mark is set before `-m` selects."""
    collect = ["--collect-only", "-q", "-p", "no:cacheprovider", "-m", "not web", "tests/web/test_login.py"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *collect],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == tiers.NO_TESTS, run.stdout + run.stderr
    assert re.search(r"^no tests collected \([1-9]\d* deselected\)", run.stdout, re.MULTILINE), run.stdout
