"""Failed logins must not reveal whether an account exists: time both kinds of failure.

    .venv/bin/python bench/login_timing.py [--rounds 40]

Runs the login check against a real database for a known user with a wrong password and for an
unknown user, interleaved, the failure counts cleared after each (so throttling never kicks in).
Prints the means and their ratio; the target is 1.00 within the noise (a user lookup without a
password check would show a ratio far below 1).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete

from mediasrv import migrations
from mediasrv.accounts import service
from mediasrv.accounts.models import LoginFailure
from mediasrv.db import Database
from mediasrv.kit.caller import Caller, Role


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--rounds", type=int, default=40)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        migrations.upgrade(db)
        actor = Caller(role=Role.ADMIN, name="bench", via="cli")
        with db.session_scope() as s:
            service.create_user(
                s,
                actor=actor,
                username="zhangwei",
                display_name="张伟",
                role=Role.ADMIN,
                org_unit_id=None,
                password="correct-horse-battery",
            )
        times: dict[str, list[float]] = {"wrong password": [], "unknown user": []}
        for i in range(ns.rounds):
            for kind, username in (("wrong password", "zhangwei"), ("unknown user", f"nobody{i}")):
                start = time.perf_counter()
                outcome = service.login(
                    db, username=username, password="guess-123456", client="bench", session_hours=1
                )
                times[kind].append(time.perf_counter() - start)
                assert outcome.user is None and outcome.retry_after is None
                with db.session_scope() as s:
                    s.execute(delete(LoginFailure))
        means = {k: statistics.mean(v) * 1000 for k, v in times.items()}
        for kind, mean in means.items():
            print(f"{kind:15s} mean {mean:7.2f} ms  stdev {statistics.stdev(times[kind]) * 1000:5.2f} ms")
        print(f"ratio unknown/wrong = {means['unknown user'] / means['wrong password']:.3f} (target 1.00)")


if __name__ == "__main__":
    main()
