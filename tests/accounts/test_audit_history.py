"""What the audit page reads: a user's change as before/after, and a time range in any offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from fastapi.testclient import TestClient

from tests.accounts.test_accounts import PASSWORD, department, person

BEIJING = timezone(timedelta(hours=8))


def test_user_changes_are_logged_as_before_and_after(client: TestClient, admin: dict[str, str]) -> None:
    unit = department(client, admin, "县委宣传部")
    user_id = person(client, admin, "wangbian", unit)
    body = {"is_active": False, "display_name": "王编辑", "password": PASSWORD + "!"}
    assert client.patch(f"/api/v1/users/{user_id}", headers=admin, json=body).status_code == 200
    log = client.get("/api/v1/audit", headers=admin, params={"action": "user.update"}).json()["items"]
    assert log[0]["target_id"] == str(user_id)
    assert log[0]["details"] == {
        "is_active": {"before": True, "after": False},
        "display_name": {"before": "张伟", "after": "王编辑"},
        "password": "changed",  # the fact, never the value
    }
    # Unchanged fields are not listed: re-sending the same role records nothing about it.
    client.patch(f"/api/v1/users/{user_id}", headers=admin, json={"role": "producer", "is_active": True})
    log = client.get("/api/v1/audit", headers=admin, params={"action": "user.update"}).json()["items"]
    assert log[0]["details"] == {"is_active": {"before": False, "after": True}}


def test_audit_time_range_in_beijing_time(client: TestClient, admin: dict[str, str]) -> None:
    department(client, admin, "县委组织部")
    now = datetime.now(UTC)

    def count(**params: str) -> int:
        r = client.get("/api/v1/audit", headers=admin, params={"action": "org_unit.create", **params})
        assert r.status_code == 200, r.text
        total: int = r.json()["total"]
        return total

    # A +08:00 bound is the same instant as UTC: 7 hours "ahead" on the wall clock is still the past.
    soon = (now + timedelta(hours=1)).astimezone(BEIJING).isoformat()
    before = (now - timedelta(minutes=5)).astimezone(BEIJING).isoformat()
    assert count(since=before, until=soon) == 1
    assert count(until=before) == 0
    assert count(since=soon) == 0
    assert count(since=(now - timedelta(minutes=5)).replace(tzinfo=None).isoformat()) == 1  # naive: UTC
