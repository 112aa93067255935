"""Cheap first-bytes check at upload time: refuse what cannot be a film, an audio lecture or a PDF.

The worker's ffprobe is the real judge (it reads only the containers in media.probe.ACCEPTED_FORMATS);
this only turns away text, playlists, archives, pictures and programs at once, with a message, instead
of after a trip through the queue.
"""

from __future__ import annotations

from enum import StrEnum

from mediasrv.kit.i18n import Text


class Sniffed(StrEnum):
    MEDIA = "media"
    PDF = "pdf"


_MEDIA_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4, MOV, M4A, 3GP
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream (VOB, .mpg)
    (0, b"\x00\x00\x01\xb3"),  # MPEG-1/2 elementary video
    (0, b"FLV"),
    (0, b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"),  # ASF: WMV, WMA
    # (ID3-tagged files are judged by what follows the tag: see _after_id3.)
    (0, b"fLaC"),
    (0, b"OggS"),
    (0, b"#!AMR"),
    (0, b".RMF"),  # RealMedia, still found in old archives
    (4, b"moov"),  # QuickTime without ftyp
    (4, b"mdat"),
    (4, b"wide"),
    (4, b"free"),
)

# Things people upload by mistake, named so the message can say what the file looks like.
_KNOWN_OTHERS: tuple[tuple[bytes, Text], ...] = (
    (b"PK\x03\x04", Text("ingest.looks.zip")),
    (b"\xd0\xcf\x11\xe0", Text("ingest.looks.old_office")),
    (b"Rar!", Text("ingest.looks.rar")),
    (b"7z\xbc\xaf", Text("ingest.looks.seven_zip")),
    (b"\x89PNG", Text("ingest.looks.png")),
    (b"\xff\xd8\xff", Text("ingest.looks.jpeg")),
    (b"GIF8", Text("ingest.looks.gif")),
    (b"MZ", Text("ingest.looks.windows_program")),
    (b"\x7fELF", Text("ingest.looks.linux_program")),
    (b"#EXTM3U", Text("ingest.looks.playlist")),
    (b"ffconcat version", Text("ingest.looks.concat_list")),
)
_ID3_HEADER = 10
_BINARY = Text("ingest.looks.binary")


def _is_mpeg_ts(head: bytes) -> bool:
    for packet in (188, 192):  # plain TS, and M2TS with a 4-byte timestamp prefix
        offset = 0 if packet == 188 else 4
        if len(head) >= offset + 3 * packet and all(head[offset + i * packet] == 0x47 for i in range(3)):
            return True
    return False


def _is_riff_media(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"AVI ")


def _is_mpeg_audio(head: bytes) -> bool:
    # MP3 frame sync (11 bits set) or ADTS AAC; layer bits must not be the reserved 00 for MP3.
    return (len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06) != 0) or (
        len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0
    )


def _after_id3(head: bytes) -> bytes | None:
    """What follows a leading ID3v2 tag, NUL padding skipped; None when `head` holds no such tag."""
    if len(head) < _ID3_HEADER or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return None
    size = int.from_bytes(bytes(b & 0x7F for b in head[6:10]), "big")  # "syncsafe": 7 bits a byte
    footer = _ID3_HEADER if head[5] & 0x10 else 0
    return head[_ID3_HEADER + size + footer :].lstrip(b"\0")


def sniff(head: bytes) -> Sniffed | None:
    """Classify by the first bytes (give at least 1 KiB); None when it is not anything we accept."""
    if head.startswith(b"%PDF-"):
        return Sniffed.PDF
    rest = _after_id3(head)
    if rest is not None:
        # An ID3 tag may front anything, and ffmpeg looks behind it: an MP3 tag followed by an HLS
        # playlist is read as that playlist. Refuse what follows when it is recognisably text or
        # another known kind; a tag longer than the first bytes (cover art) or frames after odd
        # padding are left to the worker's probe, which reads only accepted containers.
        if not rest or sniff(rest) is Sniffed.MEDIA or describe(rest) == _BINARY:
            return Sniffed.MEDIA
        return None
    if any(head[offset : offset + len(magic)] == magic for offset, magic in _MEDIA_MAGIC):
        return Sniffed.MEDIA
    if _is_mpeg_ts(head) or _is_riff_media(head) or _is_mpeg_audio(head):
        return Sniffed.MEDIA
    return None


def describe(head: bytes) -> Text:
    """What an unaccepted file looks like, in words a producer knows (rendered in the reader's language)."""
    rest = _after_id3(head)
    if rest:
        return Text("ingest.looks.behind_id3", {"what": describe(rest)})
    for magic, what in _KNOWN_OTHERS:
        if head.startswith(magic):
            return what
    try:
        head[:512].decode("utf-8")
    except UnicodeDecodeError:
        return _BINARY
    return Text("ingest.looks.text")
