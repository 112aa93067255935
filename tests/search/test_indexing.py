"""The daily refresh of the "required" flag: a list's period starting or ending changes it without
any change to the catalog, so the programmes of those lists are re-indexed that day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from whoosh import index as whoosh_index

from mediasrv.protocol.china import today_in_china
from mediasrv.search import indexing
from mediasrv.search.index import SearchIndex, _schema
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


def test_an_index_an_earlier_version_wrote_is_rebuilt_by_the_first_change(
    client: TestClient,
    producer: dict[str, str],
    admin: dict[str, str],
    ready_asset: ReadyAsset,
    tmp_path: Path,
) -> None:
    """After an upgrade that added a field (the publication region), the old index cannot take a new
    document; the first change rebuilds it from the catalog instead of failing every index job."""
    first = publish_programme(client, producer, admin, ready_asset(producer), title="红船精神")
    older = _schema()
    older.remove("region")  # what the index of the version before local programmes held
    whoosh_index.create_in(str(tmp_path), older)
    index = SearchIndex(tmp_path)
    assert index.outdated()
    db = client.app.state.db  # type: ignore[attr-defined]
    second = publish_programme(client, producer, admin, ready_asset(producer), title="乡村振兴")
    indexing.sync(db, index, [second])
    assert not index.outdated()
    assert {h.id for h in index.search("").hits} == {first, second}  # both: rebuilt from the catalog
