"""The daily refresh of the "required" flag: a list's period starting or ending changes it without
any change to the catalog, so the programmes of those lists are re-indexed that day."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from mediasrv.protocol.china import today_in_china
from mediasrv.search import indexing
from tests.fixtures import ReadyAsset, publish_programme


def test_a_lists_start_and_end_reach_the_index_the_day_they_happen(
    client: TestClient, producer: dict[str, str], admin: dict[str, str], ready_asset: ReadyAsset
) -> None:
    must, may = (publish_programme(client, producer, admin, ready_asset(producer), title=t) for t in "甲乙")
    today = today_in_china()
    day = [today + timedelta(days=n) for n in range(4)]
    for kind, programme in (("required", must), ("optional", may)):
        body = {
            "title": f"{kind} list",
            "kind": kind,
            "starts_on": day[1].isoformat(),
            "ends_on": day[2].isoformat(),
            "programme_ids": [programme],
        }
        listed = client.post("/api/v1/study-lists", headers=admin, json=body).json()
        assert client.post(f"/api/v1/study-lists/{listed['id']}/publish", headers=admin).status_code == 200
    db, index = client.app.state.db, client.app.state.search  # type: ignore[attr-defined]

    def required() -> set[str]:
        return {h.id for h in index.search("", required=True).hits}

    assert required() == set()  # indexed today: the list is not in force yet
    assert indexing.refresh_required(db, index, on=day[1]) == 1 and required() == {must}  # it starts
    assert indexing.refresh_required(db, index, on=day[2]) == 0 and required() == {must}  # nothing changes
    assert indexing.refresh_required(db, index, on=day[3]) == 1 and required() == set()  # it ended
