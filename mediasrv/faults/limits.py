"""Which limit holds for a site: the deepest region above it (or the site's own) that sets one, else the
settings' default. Read once per sweep: regions that set limits are few."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mediasrv.faults.models import FaultLimits
from mediasrv.kit.regions import within


@dataclass(frozen=True)
class Limits:
    silent_hours: dict[str, int]  # region -> hours, only regions that set it
    escalate_hours: dict[str, int]
    default_silent: int
    default_escalate: int

    @staticmethod
    def load(session: Session, *, default_silent: int, default_escalate: int) -> Limits:
        silent: dict[str, int] = {}
        escalate: dict[str, int] = {}
        for row in session.scalars(select(FaultLimits)):
            if row.silent_hours is not None:
                silent[row.region] = row.silent_hours
            if row.escalate_hours is not None:
                escalate[row.region] = row.escalate_hours
        return Limits(silent, escalate, default_silent, default_escalate)

    def silent_for(self, region: str) -> int:
        return _deepest(self.silent_hours, region, self.default_silent)

    def escalate_for(self, region: str) -> int:
        return _deepest(self.escalate_hours, region, self.default_escalate)


def _deepest(values: dict[str, int], region: str, default: int) -> int:
    best, depth = default, -1
    for where, value in values.items():
        d = len(where.split("/")) if where else 0
        if d > depth and within(region, where):
            best, depth = value, d
    return best
