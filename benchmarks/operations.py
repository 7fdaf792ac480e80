"""Fraud operations on the local AWS (moto's server): cases created per second from the alerts
queue, and label → merchant-state lag through the labels table's stream.

Usage: python benchmarks/operations.py [ALERTS] [LABELS]. Prints figures, then one JSON line.
moto is far slower than DynamoDB/SQS (aws-local-facts.md): these are local figures, not AWS's.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._measure import emit
from securebank.aws import AwsClients
from securebank.cases.alerts import AlertQueueConsumer, AlertReport, create_cases
from securebank.cases.store import CaseStore
from securebank.labels.follow import follower_for
from securebank.labels.model import LabelEvent, LabelSource
from securebank.labels.store import LabelStore, TransactionFacts
from securebank.labels.stream import MerchantLabelState
from securebank.local import stack as local_stack
from securebank.resources import ResourceNames
from tests.ops.helpers import alert_json


def cases_per_second(aws: AwsClients, names: ResourceNames, alerts: int) -> dict[str, float]:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=names.alerts_queue)["QueueUrl"]
    for start in range(0, alerts, 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "MessageBody": alert_json(f"b-{start + i}", merchant_id=f"m-{i}")}
                for i in range(min(10, alerts - start))
            ],
        )
    store = CaseStore(aws.client("dynamodb"), names.cases_table)
    consumer = AlertQueueConsumer(sqs, url, store, None)
    report = AlertReport()
    started = time.perf_counter()
    while consumer.poll_once("2026-09-01T10:00:00Z", report):
        pass
    seconds = time.perf_counter() - started
    # The same work without SQS (moto's receive slows as its queue fills): parse and create.
    bodies = [alert_json(f"s-{i}", merchant_id=f"m-{i}") for i in range(alerts)]
    direct = AlertReport()
    started = time.perf_counter()
    for start in range(0, alerts, 10):
        create_cases(bodies[start : start + 10], store, "2026-09-01T10:00:00Z", print, direct)
    direct_seconds = time.perf_counter() - started
    return {
        "alerts": alerts,
        "cases_created": report.created,
        "cases_per_s_from_queue": round(report.created / seconds, 1),
        "cases_per_s_store_only": round(direct.created / direct_seconds, 1),
    }


def label_lag(
    aws: AwsClients, names: ResourceNames, labels: int, poll_s: float
) -> dict[str, float]:
    db = aws.client("dynamodb")
    store = LabelStore(db, names.labels_table)
    target = MerchantLabelState(db, names.feature_table)
    with tempfile.TemporaryDirectory() as folder:
        follower = follower_for(
            db, aws.client("dynamodbstreams"), names.labels_table, target, Path(folder)
        )
        stop = threading.Event()

        def follow() -> None:
            while not stop.is_set():
                if not follower.poll_once():
                    time.sleep(poll_s)

        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        lags = []
        for n in range(labels):
            merchant = f"lag-m-{n % 5}"
            tid = f"lag-t-{n}"
            event = LabelEvent(tid, True, 1_790_000_000_000 + n, LabelSource.CHARGEBACK, "bench")
            written = time.perf_counter()
            store.record(event, TransactionFacts(merchant, 1_789_000_000_000 + n))
            while tid not in target.read(merchant)[0]:
                time.sleep(0.005)
            lags.append((time.perf_counter() - written) * 1000)
        stop.set()
        thread.join(timeout=5)
    p50, p99 = np.percentile(lags, [50, 99])
    return {
        "labels": labels,
        "poll_interval_ms": poll_s * 1000,
        "label_to_state_p50_ms": round(float(p50), 1),
        "label_to_state_p99_ms": round(float(p99), 1),
    }


def main() -> None:
    alerts = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    labels = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        aws = AwsClients(region="us-east-1", endpoint_url=f"http://{host}:{port}", local=True)
        names = ResourceNames(prefix="bench", environment="ops")
        local_stack.provision(aws, names)
        figures = {**cases_per_second(aws, names, alerts), **label_lag(aws, names, labels, 0.05)}
    finally:
        server.stop()
    emit(figures)


if __name__ == "__main__":
    main()
