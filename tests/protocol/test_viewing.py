"""The viewing-evidence contract the site agent and the server count by."""

from __future__ import annotations

from mediasrv.agent.sync import USER_AGENT
from mediasrv.protocol.viewing import AGENT_PRODUCT, media_segments, player_id, resolve


def test_a_player_is_a_hash_of_address_and_browser_different_at_every_site() -> None:
    tv = player_id(7, "192.168.1.31", "IPTV STB")
    assert len(tv) == 16 and int(tv, 16) >= 0 and "192" not in tv
    assert tv == player_id(7, "192.168.1.31", "IPTV STB")
    assert tv not in {
        player_id(8, "192.168.1.31", "IPTV STB"),
        player_id(7, "192.168.1.32", "IPTV STB"),
        player_id(7, "192.168.1.31", "VLC/3.0"),
    }


def test_segments_are_numbered_by_their_place_in_the_media_playlist() -> None:
    playlist = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000,\nseg_00000.ts\n"
        "#EXT-X-DISCONTINUITY\n#EXTINF:4.5,title\nseg_00001.ts?x=1\n#EXTINF:bad,\nnot-a-segment.ts\n"
        "#EXT-X-ENDLIST\n"
    )
    assert media_segments(playlist) == [("seg_00000.ts", 6.0), ("seg_00001.ts?x=1", 4.5)]
    assert resolve("a/g1/720p", "seg_00001.ts?x=1") == "a/g1/720p/seg_00001.ts"
    assert resolve("a/g1/720p", "../480p/seg.ts") == "a/g1/480p/seg.ts"
    assert resolve("a", "../../x.ts") is None
    assert resolve("a", "/abs.ts") is None and resolve("a", "http://cdn/x.ts") is None


def test_the_agents_downloads_carry_the_product_the_server_does_not_count() -> None:
    assert USER_AGENT.startswith(AGENT_PRODUCT) and USER_AGENT != AGENT_PRODUCT
