"""The fixed taxonomy of programmes, from the source documents (seeds 001, 002, 004): (code, 中文,
English). Codes are stable API values. Standard library only: the site agent shows the names too."""

from __future__ import annotations

CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("political-theory", "政治理论", "Political theory"),
    ("party-spirit", "党性教育与纪律", "Party spirit and discipline"),
    ("policy-law", "政策法规", "Policies and law"),
    ("agri-tech", "农业科技", "Agricultural technology"),
    ("skills", "实用技术与职业技能", "Practical skills and vocational training"),
    ("health", "卫生健康", "Health"),
    ("model-stories", "先进典型", "Model figures and stories"),
    ("party-history", "党史教育", "Party history"),
)

_CODES: dict[str, str] = {key.casefold(): code for code, zh, en in CATEGORIES for key in (code, zh, en)}


def category_code(value: str) -> str | None:
    """The code of the category `value` names, by its code, its Chinese name or its English one (党史教育
    as well as party-history or Party history, as people type it: surrounding spaces and case ignored);
    None when it names none."""
    return _CODES.get(value.strip().casefold())


def category_names_zh() -> str:
    """The Chinese names, in order, as a refusal lists them (政治理论、党性教育与纪律、…)."""
    return "、".join(zh for _, zh, _ in CATEGORIES)
