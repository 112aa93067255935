"""Language tags: the spoken ones of audio tracks and the written ones of captions, their Chinese
names (HLS NAME=, menus) and the ISO 639-2 tags containers carry (ffprobe's `tags.language`: "bod",
"uig", "chi"...). The one table of both: media.subtitles reads its caption tags from here."""

from __future__ import annotations

from mediasrv.kit.errors import MediaProcessingError

# BCP 47 tag -> the name listeners see. Chinese first: these are the site's users' words.
NAMES: dict[str, str] = {
    "zh": "普通话",
    "zh-Hans": "普通话",
    "zh-Hant": "普通话（繁体）",
    "zh-yue": "粤语",
    "zh-wuu": "吴语",
    "zh-min-nan": "闽南语",
    "zh-hak": "客家话",
    "bo": "藏语",
    "ug": "维吾尔语",
    "mn": "蒙古语",
    "za": "壮语",
    "ii": "彝语",
    "kk": "哈萨克语",
    "ky": "柯尔克孜语",
    "ko": "朝鲜语",
    "en": "英语",
}
# Containers tag streams with ISO 639-2 (B or T form); "und" and "" mean unknown.
_ISO639_2 = {
    "chi": "zh",
    "zho": "zh",
    "cmn": "zh",
    "yue": "zh-yue",
    "wuu": "zh-wuu",
    "nan": "zh-min-nan",
    "hak": "zh-hak",
    "tib": "bo",
    "bod": "bo",
    "uig": "ug",
    "mon": "mn",
    "zha": "za",
    "iii": "ii",
    "kaz": "kk",
    "kir": "ky",
    "kor": "ko",
    "eng": "en",
}
_BY_LOWER = {tag.lower(): tag for tag in NAMES}
# Ours -> the tag we write into a stream: the first above, so ISO 639-2/B where B and T differ ("chi",
# "tib"), as DVB-heritage boxes read the TS language descriptor; ISO 639-3 for Chinese varieties.
_TO_CONTAINER = {ours: iso for iso, ours in reversed(_ISO639_2.items())}
_TO_CONTAINER |= {"zh-Hans": "chi", "zh-Hant": "chi"}


# Captions are written, so Chinese is a script (简体, 繁体), not a spoken variety.
CAPTION_LANGUAGES = ("zh-Hans", "zh-Hant", "bo", "ug", "mn", "kk", "ko", "za", "ii", "en")
_TRADITIONAL = {"zh-hant", "zh-tw", "zh-hk", "zh-mo"}


def caption_tag(value: str) -> str | None:
    """Our spelling of a caption language (a producer's tag, a programme's "zh", a stream's ISO
    639-2 tag), or None when it is not one we carry."""
    low = value.strip().lower().replace("_", "-")
    if low in _TRADITIONAL:
        return "zh-Hant"
    spoken = from_container(low) or ("zh" if low.startswith("zh-") else None)
    if spoken is not None and spoken.startswith("zh"):
        return "zh-Hans"
    return spoken if spoken in CAPTION_LANGUAGES else None


def from_container(tag: str) -> str | None:
    """Our tag for a stream's language tag as a container carries it; None when unknown or unset."""
    tag = tag.strip()
    return _ISO639_2.get(tag.lower()) or _BY_LOWER.get(tag.lower())


def to_container(tag: str) -> str:
    """The three-letter tag a container carries for one of ours ("bo" -> "tib"); "" when unknown."""
    return _TO_CONTAINER.get(tag, "")


def checked(tag: str) -> str:
    """The tag a producer gave, in its canonical spelling ("ZH-yue" -> "zh-yue"), or a refusal in
    Chinese listing the tags accepted."""
    found = _BY_LOWER.get(tag.strip().lower())
    if found is None:
        accepted = "、".join(f"{t}（{n}）" for t, n in NAMES.items())
        raise MediaProcessingError("media.language_unknown", tag=tag[:32], accepted=accepted)
    return found


def name(tag: str) -> str:
    """The Chinese name of a tag; the original film's sound when the tag is unknown."""
    return NAMES.get(tag, "原声")
