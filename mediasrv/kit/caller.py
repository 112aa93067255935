"""Who is calling: the role and identity every domain checks a request or command against.

Here, below the domains, rather than in accounts (which keeps the users and tokens behind a caller):
audit, sites, catalog, ingest and study all take a Caller, and accounts itself records to audit and
looks up sites.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from mediasrv.kit.i18n import Text

# A site's caller name, as the audit log and study records store it ("site hb-xt-0012"): English,
# and kept so; a reader sees it rendered (caller_text: 站点 hb-xt-0012). Usernames hold no space, so
# the prefix names sites alone.
_SITE_PREFIX = "site "


class Role(StrEnum):
    PRODUCER = "producer"  # uploads and edits its own department's programmes
    ADMIN = "admin"  # publishes, curates study lists, manages sites and accounts
    SITE = "site"  # a terminal site's agent or set-top box


@dataclass(frozen=True)
class Caller:
    """The authenticated party of a request or command."""

    role: Role
    name: str
    via: Literal["token", "session", "signed", "cli"]
    user_id: int | None = None
    site_id: int | None = None
    org_unit_id: int | None = None
    token_id: int | None = None
    # An administrator's scope: the region path it administers ('' the whole network; kit.regions).
    region: str = ""

    @staticmethod
    def site_name(code: str) -> str:
        """The stored name of a site's caller."""
        return _SITE_PREFIX + code

    def can_manage(self, org_unit_id: int | None) -> bool:
        """Admins manage everything; a producer what its own department owns."""
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.PRODUCER and self.org_unit_id is not None and org_unit_id == self.org_unit_id


def caller_text(name: str) -> str | Text:
    """A stored caller name as a reader reads it: a site's in their language (站点 hb-xt-0012, as
    the pages render it too: web/static/app.js callerName), a person's as it is."""
    if name.startswith(_SITE_PREFIX):
        return Text("sites.caller", {"code": name.removeprefix(_SITE_PREFIX)})
    return name
