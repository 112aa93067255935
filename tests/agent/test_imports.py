"""The site agent runs on village PCs: it imports its own modules, the protocol it shares with the
server, and its few libraries (httpx, pydantic, starlette, Pillow, cryptography, typer, rich), never
the server's. Checked in a fresh interpreter, where sys.modules shows every module an import pulled
in, however indirectly (import-linter holds the same line statically: pyproject.toml)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

SERVER_LIBRARIES = ("fastapi", "sqlalchemy", "minio", "celery", "kombu", "alembic", "whoosh", "jieba")

IMPORT_ALL = """
import importlib, json, pkgutil, sys, time
started = time.perf_counter()
import mediasrv.agent
names = [m.name for m in pkgutil.walk_packages(mediasrv.agent.__path__, "mediasrv.agent.")]
for name in names:
    importlib.import_module(name)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "imported": names, "modules": sorted(sys.modules)}))
"""


def test_the_agent_imports_no_server_module_and_no_server_library(
    record_property: Callable[[str, object], None],
) -> None:
    ran = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=True)
    got = json.loads(ran.stdout)
    assert {"mediasrv.agent.cli", "mediasrv.agent.serve", "mediasrv.agent.outbox"} <= set(got["imported"])
    modules: list[str] = got["modules"]
    server = [
        m for m in modules if m.startswith("mediasrv.") and m.split(".")[1] not in ("agent", "protocol")
    ]
    libraries = [m for m in modules if m.split(".")[0] in SERVER_LIBRARIES]
    assert server == [] and libraries == [], (server, libraries)
    # Its import time is part of the agent's start-up on a village PC: recorded, never asserted.
    record_property("agent_import_seconds", round(got["seconds"], 3))
    print(f"the site agent's {len(got['imported'])} modules imported in {got['seconds']:.2f} s")
