"""The Celery application of mediasrv workers (`celery -A workers.celery_app worker`).

Queues: `transcode` (long ffmpeg jobs: prefetch 1, acks late, rejected back to the queue when the
worker process dies), `default` (the periodic lease sweep and short jobs) and `index` (search index
writes; give it one worker process with concurrency 1, on the volume that holds the index).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import setup_logging, task_postrun, task_prerun

from mediasrv.config import Settings
from mediasrv.jobs import (
    COMPLIANCE_REFRESH,
    FAULT_NOTIFY,
    FAULT_SWEEP,
    INDEX_REFRESH,
    MANIFEST_GC,
    QUEUES,
    RETIRED_GC,
    SWEEP,
)
from mediasrv.ops.logs import REQUEST_ID, TASK_ID, configure_logging


def make_celery(settings: Settings) -> Celery:
    app = Celery("mediasrv", broker=settings.resolved_broker_url, include=["workers.tasks"])
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="default",
        task_routes={name: {"queue": queue} for name, queue in QUEUES.items()},
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        # Redis re-delivers unacked messages after visibility_timeout: keep it above the longest job.
        broker_transport_options=(
            {"visibility_timeout": settings.transcode_time_limit_seconds + 3600}
            if settings.resolved_broker_url.startswith(("redis", "rediss"))
            else {}
        ),
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": settings.sweep_interval_seconds},
            "required-flags": {"task": INDEX_REFRESH, "schedule": crontab(hour=0, minute=5)},
            "manifest-gc": {"task": MANIFEST_GC, "schedule": crontab(hour=3, minute=30)},
            # Superseded outputs are kept for MEDIASRV_RETIRED_GRACE_SECONDS: looked at every hour.
            "retired-gc": {"task": RETIRED_GC, "schedule": crontab(minute=45)},
            # The roll-up reads kept per-site summaries: keep this month's (and, early in a month,
            # last month's) fresh, so administrators rarely wait for a recompute after a list change.
            "compliance-refresh": {"task": COMPLIANCE_REFRESH, "schedule": 300.0},
            # Faults: the sweep; then notices every minute (a region gets at most one digest per
            # MEDIASRV_FAULT_DIGEST_INTERVAL_SECONDS) and the failed deliveries due again.
            "fault-sweep": {"task": FAULT_SWEEP, "schedule": settings.fault_sweep_interval_seconds},
            "fault-notify": {"task": FAULT_NOTIFY, "schedule": 60.0},
        },
        beat_schedule_filename=str(settings.data_dir / "celerybeat-schedule"),
    )
    return app


settings = Settings()  # the worker process's composition root; reads the environment, no I/O
app = make_celery(settings)


def _json_logging(loglevel: int | str | None = None, **_: Any) -> None:
    configure_logging(json=True, level=loglevel or logging.INFO)


def _task_context(task_id: str, task: Task, **_: Any) -> None:
    # The request that enqueued the job (jobs.py sends its id as a header) follows it into the logs.
    TASK_ID.set(task_id)
    REQUEST_ID.set(getattr(task.request, "request_id", None))


def _task_context_done(**_: Any) -> None:
    TASK_ID.set(None)
    REQUEST_ID.set(None)


if settings.log_json:  # connected, it replaces Celery's own logging set-up: JSON lines like the API's
    setup_logging.connect(_json_logging, weak=False)
task_prerun.connect(_task_context, weak=False)
task_postrun.connect(_task_context_done, weak=False)
