"""nginx's own 413 (deploy/nginx/mediasrv.conf) has the app's shape and the catalogue's words."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mediasrv.kit.i18n import MESSAGES

CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "mediasrv.conf"


def test_nginx_s_413_is_an_error_out_in_chinese_then_english() -> None:
    found = re.search(r"location @mediasrv_too_large \{.*?return 413 '(.*?)';", CONF.read_text(), re.S)
    assert found is not None
    body = json.loads(found[1].replace("\\'", "'"))
    assert set(body) == {"error", "message", "code", "params"}
    zh, en = MESSAGES[body["code"]]
    assert (body["error"], body["params"], body["message"]) == ("body_too_large", {}, f"{zh} / {en}")
