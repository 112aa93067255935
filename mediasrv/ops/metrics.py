"""Prometheus counters of what this API process itself does: requests, uploads, manifest polls.

They live in the default registry; what other processes do (transcodes, queues, sites) is read at
scrape time by ops.scrape. prometheus_client only, so that every domain may count here.
"""

from __future__ import annotations

from prometheus_client import Counter, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series: twice the output, and restarts show in *_total anyway

HTTP_REQUESTS = Counter(
    "mediasrv_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
UPLOADS = Counter(
    "mediasrv_uploads", "Uploads by outcome: created, duplicate, or the refusal's code", ["outcome"]
)
MANIFEST_REQUESTS = Counter(
    "mediasrv_manifest_requests",
    "Site polls of caching manifests and channel lists: full, delta or not_modified (304)",
    ["document", "result"],
)
MANIFEST_NOT_MODIFIED = MANIFEST_REQUESTS.labels("manifest", "not_modified")  # bound once: the hot path
