"""One byte-size formatter: the server's messages and the agent's command line say KiB and MiB,
the site view KB and MB."""

from __future__ import annotations

import pytest

from mediasrv.protocol.sizes import PLAIN, human_size


@pytest.mark.parametrize(
    ("n", "iec", "plain"),
    [
        (0, "0 B", "0 B"),
        (1000, "1000 B", "1000 B"),
        (1024, "1.0 KiB", "1.0 KB"),
        (8 * 1024, "8.0 KiB", "8.0 KB"),
        (int(2.1 * 2**20), "2.1 MiB", "2.1 MB"),
        (5 * 2**20, "5.0 MiB", "5.0 MB"),
        (3 * 2**30 + 2**29, "3.5 GiB", "3.5 GB"),
        (2**40, "1.0 TiB", "1.0 TB"),
        (2**50, "1024.0 TiB", "1024.0 TB"),  # past the last unit the number grows
        (-2048, "-2.0 KiB", "-2.0 KB"),
    ],
)
def test_sizes_read_as_people_read_them(n: int, iec: str, plain: str) -> None:
    assert human_size(n) == iec
    assert human_size(n, PLAIN) == plain
