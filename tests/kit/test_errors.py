"""One error class per meaning: a status is its class's, never picked at the raise."""

from __future__ import annotations

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import mediasrv.app  # noqa: F401  # every module that defines a refusal is imported by the app
from mediasrv.accounts.auth import public
from mediasrv.kit import errors
from mediasrv.kit.errors import MediaError, StorageUnavailable, TooManyRequests, TryAgain


def _refusals(cls: type[MediaError] = MediaError) -> list[type[MediaError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _refusals(sub))]


def test_a_status_cannot_be_picked_at_the_raise() -> None:
    with pytest.raises(TypeError):
        MediaError("Only failed assets can be retried.", status_code=409)  # type: ignore[call-arg]


def test_each_meaning_has_one_class_and_a_documented_status() -> None:
    refusals = _refusals()
    codes = [c.code for c in refusals]
    assert len(codes) == len(set(codes)), f"two classes share a code: {sorted(codes)}"
    undocumented = {c.__name__: c.status_code for c in refusals if c.status_code not in errors._DESCRIPTIONS}
    assert undocumented == {}, "error_responses cannot document these"


def test_retry_after_belongs_to_the_meaning() -> None:
    assert MediaError("x").headers() is None
    assert StorageUnavailable("x").headers() == {"Retry-After": "30"}
    assert TryAgain("x").headers() == {"Retry-After": "1"}
    assert TooManyRequests("x", retry_after=90).headers() == {"Retry-After": "90"}


def test_the_handler_answers_with_the_class_s_status_code_and_retry_after(app: FastAPI) -> None:
    def changing() -> None:
        raise TryAgain("delivery.manifest_changed")

    app.add_api_route("/test-changing", changing, dependencies=[Depends(public)])
    with TestClient(app) as client:
        r = client.get("/test-changing")
    assert (r.status_code, r.headers.get("retry-after")) == (503, "1")
    assert (r.json()["error"], r.json()["message"]) == (
        "try_again",
        "生成清单期间清单有变化：请重试。",  # Chinese, unless the caller asks for English
    )
