"""What the server and the site agent share, so that both sides say and count the same things:

- `document`: the manifest document format (canonical JSON, deltas, the signature's context);
- `viewing`: the viewing-evidence contract (players, segments, the agent's User-Agent product);
- `channels`: the M3U8 channel list a set-top box opens;
- `http`: Range and If-None-Match as both origins serve files, the playlist media types;
- `hashing`: a file's SHA-256; `sizes`: byte sizes for people; `china`: Beijing time;
- `taxonomy`: the programme categories; `vendor` (+ vendor.json): the pinned hls.js;
- `photos`: a photo made again from its pixels alone (Pillow: the one library besides the
  standard library, and one the agent has anyway).

The site agent runs on village PCs and imports nothing of the server but this package; this package
imports nothing of either (import-linter contracts in pyproject.toml hold both lines), so the agent
stays small and cheap to start.
"""
