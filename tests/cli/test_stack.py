"""The local AWS as a user meets it: `stack up/status/down/reset`, what it remembers across a
graceful restart and a kill -9, stale checkpoints, and concurrent producers."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from securebank.aws import AwsClients
from securebank.local import background
from securebank.local import stack as local_stack
from securebank.local.event_source import (
    CheckpointMismatch,
    Checkpoints,
    EventSourceMapping,
    MappingConfig,
)
from securebank.local.producer import stream_records
from securebank.resources import ResourceNames
from tests.cli.test_cli import securebank


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, /proc/net/tcp*) with a listening socket on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_stack_lifecycle_and_registry_commands(tmp_path):
    up = securebank("stack", "up", cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        servers = json.loads((tmp_path / ".securebank" / "stack.json").read_text())["servers"]
        assert set(servers) == {c.name for c in local_stack.components()}
        for info in servers.values():
            assert f"http://127.0.0.1:{info['port']}" in up.stdout
            # loopback only: 127.0.0.1 as /proc/net/tcp writes it
            assert _listening_addresses(info["port"]) == {"0100007F"}
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in up.stdout.splitlines()
            if line.startswith("export ")
        )
        dynamodb = "dynamodb" if "dynamodb" in servers else "moto"  # SECUREBANK_LOCAL_DYNAMODB
        assert exports["AWS_ENDPOINT_URL_DYNAMODB"].endswith(f":{servers[dynamodb]['port']}")
        assert exports["AWS_ENDPOINT_URL_KINESIS"].endswith(f":{servers['kinesis']['port']}")
        assert exports["AWS_ENDPOINT_URL_SQS"].endswith(f":{servers['ministack']['port']}")
        status = securebank("stack", "status", cwd=tmp_path)
        assert status.returncode == 0
        assert "securebank-local-lake" in status.stdout
        assert "securebank-local-decisions" in status.stdout
        assert "securebank-local-transactions" in status.stdout
        assert "securebank-local-fraud-model: 0 versions" in status.stdout
        listed = securebank("model", "list", "--json", cwd=tmp_path)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
        missing = securebank("model", "approve", "5", cwd=tmp_path)
        assert missing.returncode == 1
        assert missing.stderr.strip() == (
            "error: model version 5 does not exist in securebank-local-fraud-model"
        )
        bad = securebank("pipeline", "run", "--param", "MaxDepth", cwd=tmp_path)
        assert bad.returncode == 1
        assert bad.stderr.strip() == "error: --param takes NAME=VALUE, got 'MaxDepth'"
        # positions saved for another stream: refused loudly, before any record is read
        stale = tmp_path / ".securebank" / "stream" / "checkpoints.json"
        stale.parent.mkdir(parents=True)
        stale.write_text(
            json.dumps(
                {
                    "stream": {
                        "stream_arn": "arn:aws:kinesis:us-east-1:000000000000:stream/old",
                        "created": "2026-01-01T00:00:00+00:00",
                        "shards": {"shardId-000000000000": "1"},
                    },
                    "positions": {"shardId-000000000000": "49680567172421380524131148095663"},
                }
            )
        )
        refused = securebank("stream", "run", "--duration", "1", cwd=tmp_path)
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"error: checkpoints in {stale.relative_to(tmp_path)}")
        assert "do not belong to stream securebank-local-transactions" in refused.stderr
    finally:
        down = securebank("stack", "down", cwd=tmp_path)
    assert down.returncode == 0 and "stopped" in down.stdout
    after = securebank("stack", "status", cwd=tmp_path)
    assert after.returncode == 1 and "not running" in after.stdout
    assert (tmp_path / ".securebank" / "aws" / "kinesis").is_dir()  # state kept
    refused = securebank("stack", "reset", cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert (tmp_path / ".securebank" / "aws").is_dir()
    reset = securebank("stack", "reset", "--yes", cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert not (tmp_path / ".securebank" / "aws").exists()
    assert not (tmp_path / ".securebank" / "stream" / "checkpoints.json").exists()


def _clients(stack: local_stack.Stack) -> AwsClients:
    return AwsClients(
        region="us-east-1",
        endpoint_url=stack.url,
        local=True,
        service_endpoints=stack.service_endpoints,
    )


NAMES = ResourceNames(prefix="sbtest", environment="persist")


def _write_everything(aws: AwsClients, tag: str) -> dict[str, str]:
    """One of each kind of state; returns what to look for."""
    aws.client("dynamodb").put_item(
        TableName=NAMES.feature_table, Item={"pk": {"S": f"card#{tag}"}, "n": {"N": "7"}}
    )
    put = aws.client("kinesis").put_record(
        StreamName=NAMES.stream, PartitionKey=tag, Data=f"record-{tag}".encode()
    )
    aws.client("s3").put_object(Bucket=NAMES.lake_bucket, Key=f"lake/{tag}.parquet", Body=b"x")
    topic = aws.client("sns").create_topic(Name=NAMES.alerts_topic)["TopicArn"]
    aws.client("sns").publish(TopicArn=topic, Message=f"alert-{tag}")
    aws.client("sagemaker").create_model_package(
        ModelPackageGroupName=NAMES.model_package_group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "img", "ModelDataUrl": f"s3://a/{tag}.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )
    return {"shard": put["ShardId"], "sequence": put["SequenceNumber"]}


def _read_everything(aws: AwsClients) -> dict[str, object]:
    dynamodb, kinesis, sqs = aws.client("dynamodb"), aws.client("kinesis"), aws.client("sqs")
    items = dynamodb.scan(TableName=NAMES.feature_table)["Items"]
    records = []
    for shard in kinesis.list_shards(StreamName=NAMES.stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=NAMES.stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += [
            r["Data"].decode() for r in kinesis.get_records(ShardIterator=iterator)["Records"]
        ]
    objects = aws.client("s3").list_objects_v2(Bucket=NAMES.lake_bucket).get("Contents", [])
    queue = sqs.get_queue_url(QueueName=NAMES.alerts_queue)["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    packages = aws.client("sagemaker").list_model_packages(
        ModelPackageGroupName=NAMES.model_package_group
    )["ModelPackageSummaryList"]
    return {
        "items": sorted(i["pk"]["S"] for i in items),
        "records": sorted(records),
        "objects": sorted(o["Key"] for o in objects),
        "alerts": int(depth["Attributes"]["ApproximateNumberOfMessages"]),
        "versions": sorted(
            (int(p["ModelPackageVersion"]), p["ModelApprovalStatus"]) for p in packages
        ),
    }


def test_the_stack_remembers_across_restart_and_kill_9(tmp_path):
    home = tmp_path / "home"
    stack = local_stack.start(home)
    try:
        aws = _clients(stack)
        local_stack.provision(aws, NAMES)
        first = _write_everything(aws, "a")
        checkpoints = Checkpoints(home / "checkpoints.json")
        checkpoints.set(first["shard"], first["sequence"])
        expected = {
            "items": ["card#a"],
            "records": ["record-a"],
            "objects": ["lake/a.parquet"],
            "alerts": 1,
            "versions": [(1, "Approved")],
        }
        assert _read_everything(aws) == expected

        # graceful: stack down, stack up (new ports)
        local_stack.stop(home)
        stack = local_stack.start(home)
        aws = _clients(stack)
        assert local_stack.provision(aws, NAMES) == []  # everything is still there
        assert _read_everything(aws) == expected
        _mapping(aws, home)  # the saved position belongs to this stream: accepted

        # crash: kill -9 every server, after MiniStack's snapshot period
        _write_everything(aws, "b")
        time.sleep(local_stack.SNAPSHOT_S * 2.5)
        for info in stack.servers.values():
            os.kill(info.pid, signal.SIGKILL)
        for info in stack.servers.values():
            background.terminate(info.pid, grace_s=5)  # reap; it is already dead
        assert local_stack.read_info(home) is None
        stack = local_stack.start(home)
        aws = _clients(stack)
        assert local_stack.provision(aws, NAMES) == []
        assert _read_everything(aws) == {
            "items": ["card#a", "card#b"],
            "records": ["record-a", "record-b"],
            "objects": ["lake/a.parquet", "lake/b.parquet"],
            "alerts": 2,
            "versions": [(1, "Approved"), (2, "Approved")],
        }
        _mapping(aws, home)
    finally:
        local_stack.stop(home)


def _mapping(aws: AwsClients, home: Path) -> EventSourceMapping:
    return EventSourceMapping.for_stream(
        kinesis=aws.client("kinesis"),
        sqs=aws.client("sqs"),
        stream_name=NAMES.stream,
        handler=lambda event, context: None,
        config=MappingConfig(),
        checkpoints=Checkpoints(home / "checkpoints.json"),
    )


def test_checkpoints_of_another_stream_are_refused_loudly(aws, tmp_path):
    kinesis = aws.client("kinesis")
    names = aws.names
    put = kinesis.put_record(StreamName=names.stream, PartitionKey="k", Data=b"x")
    path = tmp_path / "checkpoints.json"
    Checkpoints(path).set(put["ShardId"], put["SequenceNumber"])
    mapping = dict(
        kinesis=kinesis,
        sqs=aws.client("sqs"),
        stream_name=names.stream,
        handler=lambda event, context: None,
        config=MappingConfig(),
    )
    EventSourceMapping.for_stream(checkpoints=Checkpoints(path), **mapping)
    stamped = json.loads(path.read_text())
    assert stamped["positions"] == {put["ShardId"]: put["SequenceNumber"]}
    assert stamped["stream"]["stream_arn"].endswith(names.stream)

    # the stream is deleted and created again under the same name (a wiped stack)
    kinesis.delete_stream(StreamName=names.stream)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=names.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
    )
    time.sleep(1.1)  # creation times are kept to the second
    local_stack.provision(aws, names)
    with pytest.raises(CheckpointMismatch, match="do not belong to stream") as raised:
        EventSourceMapping.for_stream(checkpoints=Checkpoints(path), **mapping)
    assert str(path) in str(raised.value)
    assert json.loads(path.read_text()) == stamped  # nothing dropped

    # an unstamped (older) file whose position lies past the new stream's tip
    path.write_text(json.dumps({put["ShardId"]: put["SequenceNumber"]}))
    with pytest.raises(CheckpointMismatch, match=f"is not in shard {put['ShardId']}"):
        EventSourceMapping.for_stream(checkpoints=Checkpoints(path), **mapping)


def test_no_acknowledged_record_is_lost_with_8_concurrent_producers(aws):
    """8 producers put 2,500 records each at full speed; every acknowledged record is in the
    stream exactly once (moto's Kinesis overwrote 231 of 20,000 here)."""
    from securebank.local.producer import send

    kinesis, stream = aws.client("kinesis"), aws.names.stream
    producers, each = 8, 2_500
    sent: list[int] = [0] * producers

    def produce(index: int) -> None:
        payloads = ((f"card-{index}-{n % 97}", f"{index}:{n}".encode()) for n in range(each))
        sent[index] = send(kinesis, stream, payloads, rate=1e9).sent

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sent == [each] * producers

    seen = [r["Data"].decode() for r in stream_records(kinesis, stream)]
    assert len(seen) == producers * each
    assert set(seen) == {f"{i}:{n}" for i in range(producers) for n in range(each)}


@pytest.mark.parametrize(
    ("service", "target", "json_version"),
    [
        ("dynamodb", "DynamoDB_20120810.ListTables", "1.0"),
        ("kinesis", "Kinesis_20131202.ListStreams", "1.1"),
    ],
)
def test_a_client_killed_mid_request_does_not_take_the_server_down(
    service, target, json_version, tmp_path
):
    """dynalite and kinesalite threw on an aborted request and exited: a scorer killed with
    kill -9 while sending a write took the local DynamoDB down with it."""
    import shutil
    import socket
    import subprocess
    import urllib.request

    port = background.free_port()
    server = subprocess.Popen(
        [
            shutil.which("node"),
            str(local_stack.LOCAL_AWS_DIR / "serve.js"),
            service,
            "--port",
            str(port),
            "--path",
            str(tmp_path / service),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in server.stdout.readline()
        for _ in range(3):  # headers and half a body, then the connection dies (RST)
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(
                f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: {target}\r\n"
                f"Content-Type: application/x-amz-json-{json_version}\r\n"
                'Content-Length: 1000\r\n\r\n{"Li'.encode()
            )
            client.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            client.close()
        time.sleep(0.5)
        assert server.poll() is None, server.stderr.read()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b"{}",
            headers={
                "X-Amz-Target": target,
                "Content-Type": f"application/x-amz-json-{json_version}",
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20261126/us-east-1/"
                f"{service}/aws4_request, SignedHeaders=host, Signature=0",
                "X-Amz-Date": "20261126T000000Z",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # it still answers
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(10)


def test_stream_run_against_aws_that_does_not_answer_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    dead = f"http://127.0.0.1:{background.free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "securebank.cli.app", "stream", "run", "--duration", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_ENDPOINT_URL": dead, "COLUMNS": "200"},
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: the AWS services do not answer")
