"""Background jobs: sent by task name after the database commit. The only module that imports Celery."""

from __future__ import annotations

import logging
from typing import Protocol

from celery import Celery
from sqlalchemy import event
from sqlalchemy.orm import Session

from mediasrv.ops.logs import REQUEST_ID

log = logging.getLogger(__name__)

TRANSCODE = "mediasrv.transcode"
# One piece of a long film's transcode (a chunk of its video, its audio) and, after the last, the join.
TRANSCODE_PIECE = "mediasrv.transcode_piece"
# A published film made again while it stays playable (workers.reburn), arguments (asset id, "iptv"
# after its captions changed, "all" after its language tracks did).
REMAKE = "mediasrv.remake"
REMAKE_IPTV, REMAKE_ALL = "iptv", "all"
SWEEP = "mediasrv.sweep"
INDEX = "mediasrv.index"  # one writer owns the search index: run its queue with concurrency 1
INDEX_REFRESH = "mediasrv.index_refresh"
MANIFEST_GC = "mediasrv.manifest_gc"
RETIRED_GC = "mediasrv.retired_gc"  # delete superseded outputs once their grace is over
COMPLIANCE_REFRESH = "mediasrv.compliance_refresh"
FAULT_SWEEP = "mediasrv.fault_sweep"  # open and close the detected faults of every site
FAULT_NOTIFY = "mediasrv.fault_notify"  # one digest per region, escalations, pending deliveries
CAPTIONS = "mediasrv.captions"  # publish an asset's changed captions as its subtitle set (seconds)
QUEUES = {
    TRANSCODE: "transcode",
    TRANSCODE_PIECE: "transcode",
    REMAKE: "transcode",
    SWEEP: "default",
    INDEX: "index",
    INDEX_REFRESH: "index",
    MANIFEST_GC: "default",
    RETIRED_GC: "default",
    COMPLIANCE_REFRESH: "default",
    FAULT_SWEEP: "default",
    FAULT_NOTIFY: "default",
    CAPTIONS: "default",  # an ffprobe and small files: not behind hour-long transcodes
}


class Dispatcher(Protocol):
    def send(self, task: str, *args: str) -> None: ...


class CeleryDispatcher:
    """Sends tasks by name through the broker; the API process never imports the task code."""

    def __init__(self, broker_url: str) -> None:
        self.app = Celery("mediasrv-client", broker=broker_url, set_as_current=False)
        self.app.conf.broker_connection_retry_on_startup = True

    def send(self, task: str, *args: str) -> None:
        request_id = REQUEST_ID.get()  # the worker logs it with the job, tying both ends together
        headers = {"request_id": request_id} if request_id else None
        self.app.send_task(task, args=list(args), queue=QUEUES[task], headers=headers)


def enqueue_after_commit(session: Session, dispatcher: Dispatcher, task: str, *args: str) -> None:
    """Send the task once the current transaction commits, so the worker finds the row it is given.

    A failed send is logged, not raised: the row is committed in a state the periodic sweep
    re-enqueues, so a broker outage delays work instead of losing it.
    """

    def _send(_session: Session) -> None:
        try:
            dispatcher.send(task, *args)
        except Exception:
            log.exception("could not enqueue %s%r; the sweep will retry", task, args)

    event.listen(session, "after_commit", _send, once=True)
