"""Runs MiniStack (S3, SNS, SQS of SecureBank's local stack) with periodic snapshots.

MiniStack saves its in-memory state (queues and their messages, topics, subscriptions) only on a
graceful stop; S3 objects are files and survive anything. This wrapper also saves the SNS and SQS
state every SECUREBANK_SNAPSHOT_S seconds (atomic file replace), so a kill -9 loses at most that
window of queue changes. Run with MiniStack's own virtualenv (it pins botocore).
"""

import logging
import os
import threading
import time

from ministack import app
from ministack.core.persistence import save_all

SNAPSHOT_KEYS = ("sns", "sqs", "s3")


def _snapshot_forever(interval_s: float) -> None:
    while True:
        time.sleep(interval_s)
        try:
            state = app._build_persistence_save_dict()
            save_all({key: state[key] for key in SNAPSHOT_KEYS if key in state})
        except Exception:  # a dict changed under us: the next tick saves it
            logging.getLogger("securebank.snapshot").exception("snapshot failed")


def _load_then_snapshot(load=app._load_persisted_state) -> None:
    """Snapshots start only once the saved state is loaded: a snapshot taken before would
    write the empty boot state over it."""
    load()
    interval = float(os.environ.get("SECUREBANK_SNAPSHOT_S", "1"))
    threading.Thread(target=_snapshot_forever, args=(interval,), daemon=True).start()


if __name__ == "__main__":
    app._load_persisted_state = _load_then_snapshot  # called by name at startup
    app.main()
