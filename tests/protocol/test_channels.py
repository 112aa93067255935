"""The channel list a box opens is written by one writer for the server and the site agent."""

from __future__ import annotations

from mediasrv.protocol.channels import Channel, channel_list, group_title


def test_the_channel_list_names_each_programme_with_its_group_and_poster() -> None:
    text = channel_list(
        [
            Channel(
                "p1",
                "党的二十大\n精神  学习",
                True,
                "http://pc/files/a/master.m3u8",
                1805.4,
                "http://pc/p.jpg",
            ),
            Channel("p2", "乡村振兴", False, "http://pc/files/b/master.m3u8"),
        ]
    )
    assert text == (
        "#EXTM3U\n"
        '#EXTINF:1805 tvg-id="p1" group-title="必学" tvg-logo="http://pc/p.jpg",党的二十大 精神 学习\n'
        "http://pc/files/a/master.m3u8\n"
        '#EXTINF:-1 tvg-id="p2" group-title="选学",乡村振兴\n'
        "http://pc/files/b/master.m3u8\n"
    )
    assert channel_list([]) == "#EXTM3U\n"
    assert (group_title(True), group_title(False)) == ("必学", "选学")
