"""Debian's VLC as a test player: opens a URL with no header, as a set-top box or a village PC does,
with dummy video and audio outputs, and returns its verbose log.

VLC refuses to run as root ("VLC is not supposed to be run as root"), and CI runs as root. There,
Debian's `vlc-wrapper` starts it as the user named by SUDO_UID (it is VLC's own way to shed root),
here `nobody`, with a scratch HOME of its own; any other user runs `cvlc`'s command directly.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

from tests.servers import unavailable

# The outputs are dummies and the interface is none: only the demuxers and decoders work for real.
_OPTIONS = ["-I", "dummy", "--vout", "dummy", "--aout", "dummy", "--play-and-exit", "--no-video-title-show"]


@dataclass(frozen=True)
class Played:
    log: str

    @property
    def segments(self) -> list[str]:
        """The URLs of the HLS segments VLC's HLS module fetched, in order (not its playlists)."""
        fetched = re.findall(r"adaptive demux debug: Retrieving (\S+)", self.log)
        return [url for url in fetched if not url.endswith(".m3u8")]

    @property
    def decoders(self) -> set[str]:
        """'video' and/or 'audio': the kinds of decoder VLC started on what it fetched."""
        return set(re.findall(r"main decoder debug: using (video|audio) decoder module", self.log))

    def opened(self, url: str) -> bool:
        """Whether VLC opened `url` as an input (a playlist entry it went on to play)."""
        return f"`{url}' gives access" in self.log


def command() -> list[str]:
    """How to start VLC as this user; skips (fails under CI=true) when it is not installed."""
    if os.geteuid() != 0:
        found = shutil.which("vlc")
        if found is None:
            unavailable(
                "VLC", "real-player", FileNotFoundError("vlc: install Debian's vlc-bin (make services)")
            )
        return [found]
    wrapper = shutil.which("vlc-wrapper")
    if wrapper is None:
        unavailable("VLC", "real-player", FileNotFoundError("vlc-wrapper: install Debian's vlc-bin"))
    return [wrapper]


def play(url: str, *, timeout: float = 180, seconds: float | None = None) -> Played:
    """Let VLC open `url` and play everything it leads to, then exit; its verbose log. `seconds`: a
    live stream never ends, so VLC must still be playing after that long, and is then stopped."""
    argv = [*command(), *_OPTIONS, "-vv", url]
    home = tempfile.mkdtemp(prefix="vlc-home-")
    env = {**os.environ, "HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home, "XDG_DATA_HOME": home}
    try:
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody").pw_uid
            os.chown(home, nobody, -1)
            env["SUDO_UID"] = str(nobody)  # vlc-wrapper: the user to become
        with subprocess.Popen(
            argv,
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as vlc:
            try:
                log, _ = vlc.communicate(timeout=seconds if seconds is not None else timeout)
            except subprocess.TimeoutExpired:
                vlc.terminate()  # VLC stops cleanly on SIGTERM
                log, _ = vlc.communicate(timeout=30)
                if seconds is None:
                    raise AssertionError(f"VLC did not finish in {timeout} s:\n{log[-4000:]}") from None
                return Played(log)  # still playing after `seconds`: what a live stream should do
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if seconds is not None:
        raise AssertionError(f"VLC stopped before {seconds} s (exit {vlc.returncode}):\n{log[-4000:]}")
    assert vlc.returncode == 0, f"VLC exited with {vlc.returncode}:\n{log[-4000:]}"
    return Played(log)
