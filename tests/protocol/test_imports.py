"""The protocol package is what both programs import: the standard library only (and Pillow, for
photos, which the agent has anyway), checked in a fresh interpreter's sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys

IMPORT_ALL = """
import importlib, json, pkgutil, sys
before = set(sys.modules)  # the interpreter's start (site, an editable install's finder)
import mediasrv.protocol
for m in pkgutil.walk_packages(mediasrv.protocol.__path__, "mediasrv.protocol."):
    importlib.import_module(m.name)
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_the_protocol_imports_the_standard_library_only() -> None:
    ran = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, check=True)
    tops = {m.split(".")[0] for m in json.loads(ran.stdout)}
    others = tops - set(sys.stdlib_module_names) - {"mediasrv", "PIL"}
    assert others == set(), others
    inside = {m for m in json.loads(ran.stdout) if m.startswith("mediasrv.")}
    assert all(m.startswith("mediasrv.protocol") for m in inside), inside
