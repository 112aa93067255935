"""Byte sizes as people read them, in every message of the server and the site agent: 1000 B,
8.0 KiB, 2.1 MiB. One formatter; only the unit names differ by reader (the site view says KB and
MB, as Windows and phones in China do). Unit symbols, not words: the same text reads in a Chinese
message and an English one."""

from __future__ import annotations

IEC = ("B", "KiB", "MiB", "GiB", "TiB")  # the server's messages, the agent's command line
PLAIN = ("B", "KB", "MB", "GB", "TB")  # the site view, for village administrators


def human_size(n: int, units: tuple[str, ...] = IEC) -> str:
    """`n` bytes in the largest unit (of 1024) under which it is at least 1: whole bytes, else one
    decimal. Beyond the last unit the number grows (a petabyte is 1024.0 TiB)."""
    size = float(n)
    for unit in units[:-1]:
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == units[0] else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} {units[-1]}"
