"""A compact copy of a Whoosh segment's big posting lists, read with one memory copy per term.

Why: at 100,000 programmes the cold cost of a query is reading each term's postings from Whoosh the
first time (a W3 block is a pickle; a common word's 29,000 postings take ~8 ms to decode), and the
slowest queries pull two to four such terms. From this file the same postings are an `array`
filled by `frombytes` from an mmap (no Python step per posting): ~2.5 ms for that word, most of it
building the dict the set algebra needs.

Design:
- One file per Whoosh SEGMENT, named `<segment id>.pst` beside the segment's own files. Segments are
  immutable until merged, so a file never goes stale: a publication adds a small segment (and its
  small sidecar) without rewriting the big one's, and Whoosh's own clean-up deletes the file with its
  segment (the name matches its segment-file pattern). Written by the process that committed, right
  after the commit, to a dot-named temporary file then renamed: readers see a whole file or none,
  and two writers of the same segment write the same bytes.
- Only terms of the searched text fields (`FIELDS`) with at least `MIN_DOCS` postings: a rarer term
  costs little to read from Whoosh, and leaving it out keeps the file small (~5 bytes a posting).
- Postings are the segment's own docnums (the reader adds the segment's base) including deleted
  documents: deletions change without a new segment, so the reader filters them as today.
- Per posting: the docnum (int32) and the term's weight in that doc (its frequency, what BM25 reads;
  field lengths come from Whoosh's length column). Weights are stored as one byte when every weight
  of the term is a whole number below 256 (the usual case), else as float64, or not at all when all
  are 1.0.
- Checked, never a wrong result: a little-endian header with a magic, a format version, the segment
  id and its document count; a CRC over the term table and one per term's data; any mismatch, short
  read or docnum out of range makes the reader ignore the file (or that term) and read from Whoosh.

Layout: header `<4sHHIQIIB` (magic, version, 0, doc count, table offset, table length, table CRC,
segment id length) and the segment id; then each term's data (docnums, then weights); then the term
table: per term `<BH` (field length, term length), field, term bytes, `<QIBI` (data offset, postings,
weight kind, data CRC).
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

MAGIC = b"MSPS"
VERSION = 1
FIELDS = ("all", "title", "py", "captions")  # what SearchIndex._postings reads
MIN_DOCS = 512  # terms with fewer postings are read from Whoosh (a tenth of a millisecond)
SUFFIX = ".pst"

_HEADER = struct.Struct("<4sHHIQIIB")
_ENTRY_HEAD = struct.Struct("<BH")
_ENTRY_TAIL = struct.Struct("<QIBI")
W_ONES, W_BYTES, W_DOUBLES = 0, 1, 2  # weight kinds
_WEIGHT_SIZE = {W_ONES: 0, W_BYTES: 1, W_DOUBLES: 8}
_LITTLE = struct.pack("=H", 1) == struct.pack("<H", 1)


def path_for(directory: Path, segment_id: str) -> Path:
    return directory / f"{segment_id}{SUFFIX}"


def _le(values: array[Any]) -> bytes:
    if not _LITTLE:  # pragma: no cover - every machine we run on is little-endian
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le(typecode: str, raw: bytes | memoryview) -> array[Any]:
    values: array[Any] = array(typecode)
    values.frombytes(raw)
    if not _LITTLE:  # pragma: no cover
        values.byteswap()
    return values


def write(
    path: Path,
    segment_id: str,
    doc_count: int,
    terms: Iterable[tuple[str, bytes, Sequence[int], Sequence[float]]],
) -> None:
    """Write `path` from (field, term, ascending docnums, weights); atomically (temp file, rename)."""
    seg = segment_id.encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # dot: whoosh's clean-up skips it
    table = bytearray()
    try:
        with tmp.open("wb") as f:
            f.write(bytes(_HEADER.size + len(seg)))  # rewritten at the end
            offset = f.tell()
            for field, text, docs, weights in terms:
                ids = array("i", docs)
                if all(w == 1.0 for w in weights):
                    kind, wdata = W_ONES, b""
                elif all(0 <= w < 256 and w == int(w) for w in weights):
                    kind, wdata = W_BYTES, bytes(int(w) for w in weights)
                else:
                    kind, wdata = W_DOUBLES, _le(array("d", weights))
                data = _le(ids) + wdata
                f.write(data)
                fb = field.encode()
                table += _ENTRY_HEAD.pack(len(fb), len(text)) + fb + text
                table += _ENTRY_TAIL.pack(offset, len(ids), kind, zlib.crc32(data))
                offset += len(data)
            f.write(table)
            f.seek(0)
            f.write(
                _HEADER.pack(MAGIC, VERSION, 0, doc_count, offset, len(table), zlib.crc32(table), len(seg))
            )
            f.write(seg)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


class Sidecar:
    """An open sidecar: term -> (docnums, weights), each checked before use."""

    def __init__(
        self, mm: mmap.mmap, doc_count: int, table: dict[tuple[str, bytes], tuple[int, int, int, int]]
    ):
        self._mm = mm
        self.doc_count = doc_count
        self._table = table

    @classmethod
    def open(cls, path: Path, segment_id: str, doc_count: int) -> Sidecar | None:
        """The sidecar at `path` if it is whole and belongs to this segment; None otherwise."""
        try:
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < _HEADER.size:
                    return None
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            return None
        try:
            magic, version, _, count, t_off, t_len, t_crc, seg_len = _HEADER.unpack_from(mm, 0)
            seg = mm[_HEADER.size : _HEADER.size + seg_len]
            if (magic, version, count, seg) != (MAGIC, VERSION, doc_count, segment_id.encode()):
                raise ValueError("another segment or format")
            raw = mm[t_off : t_off + t_len]
            if t_off + t_len != size or zlib.crc32(raw) != t_crc:
                raise ValueError("damaged term table")
            table = dict(_entries(raw))
        except (ValueError, struct.error, UnicodeDecodeError):
            mm.close()
            return None
        return cls(mm, count, table)

    def __contains__(self, key: tuple[str, bytes]) -> bool:
        return key in self._table

    def read(self, field: str, text: bytes) -> tuple[array[int], array[Any] | None, int] | None:
        """(docnums, weights or None when all are 1.0, weight kind) of a term, or None when the file
        does not hold it or its data fails a check."""
        entry = self._table.get((field, text))
        if entry is None:
            return None
        offset, n, kind, crc = entry
        end = offset + n * 4 + n * _WEIGHT_SIZE.get(kind, -1)
        if kind not in _WEIGHT_SIZE or end > len(self._mm):
            return None
        view = memoryview(self._mm)[offset:end]
        try:
            if zlib.crc32(view) != crc:
                return None
            docs = _from_le("i", view[: n * 4])
            weights = None if kind == W_ONES else _from_le("B" if kind == W_BYTES else "d", view[n * 4 :])
        finally:
            view.release()  # an exported buffer would keep the mmap from closing
        if n and (docs[0] < 0 or docs[-1] >= self.doc_count):
            return None
        return docs, weights, kind

    def close(self) -> None:
        self._mm.close()


def _entries(raw: bytes) -> Iterator[tuple[tuple[str, bytes], tuple[int, int, int, int]]]:
    pos = 0
    while pos < len(raw):
        flen, tlen = _ENTRY_HEAD.unpack_from(raw, pos)
        pos += _ENTRY_HEAD.size
        field = raw[pos : pos + flen].decode()
        text = raw[pos + flen : pos + flen + tlen]
        pos += flen + tlen
        offset, n, kind, crc = _ENTRY_TAIL.unpack_from(raw, pos)
        pos += _ENTRY_TAIL.size
        yield (field, text), (offset, n, kind, crc)
