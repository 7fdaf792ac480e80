"""The local AWS: servers on 127.0.0.1, chosen per service by measurement, that keep state.

- DynamoDB: dynalite by default (npm, LevelDB in HOME/aws/dynamodb; no DynamoDB Streams, so
  the local labels consumer scans the labels table instead, `labels.follow`), or moto with
  SECUREBANK_LOCAL_DYNAMODB=moto (Streams; journalled like SageMaker; far slower).
- Kinesis: kinesalite (npm, LevelDB in HOME/aws/kinesis): a kill -9 keeps every acknowledged record.
- S3, SNS, SQS: MiniStack (PyPI, its own venv, HOME/aws/ministack): S3 objects are files and
  survive anything; SNS/SQS are snapshotted every `SNAPSHOT_S` s, the loss bound of a kill -9.
- SageMaker control plane: moto's server, every request journalled (HOME/aws/sagemaker.jsonl,
  written before the answer) and the changes replayed on start.

docs/architecture.md ("Local AWS") gives the measurements behind the choice. boto3 reaches each
through its per-service endpoint (`AwsClients.service_endpoints`, or boto3's own
`AWS_ENDPOINT_URL_<SERVICE>` variables). `start` starts what is not running and records the four
in `HOME/stack.json`; `stop` ends them gracefully (state kept); `reset` also deletes the state.
Nothing is downloaded at run time: `make install-local-aws` installs the servers beforehand.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from securebank.local import background
from securebank.local.background import ServerInfo
from securebank.resources import (
    CASES_BY_STATUS_INDEX,
    DECISIONS_BY_CARD_INDEX,
    STATE_TTL_ATTRIBUTE,
    STREAM_SHARDS,
    ResourceNames,
)

STATE_FILE = "stack.json"
#: Ports are kept from one start to the next: MiniStack's saved queue URLs include its port, and
#: exported AWS_ENDPOINT_URL_* variables stay valid.
PORTS_FILE = "ports.json"
DATA_DIR = "aws"
#: SNS/SQS snapshot period of MiniStack (seconds): the loss bound for queues on a crash.
SNAPSHOT_S = 1.0
#: The repository's local-aws/ folder: the npm lockfile, the wrappers, MiniStack's pins.
LOCAL_AWS_DIR = Path(__file__).resolve().parents[2] / "local-aws"
MINISTACK_PYTHON = Path(__file__).resolve().parents[2] / ".venv-ministack" / "bin" / "python"
INSTALL_HINT = "run `make install-local-aws` (Node 20 and npm; MiniStack in .venv-ministack)"


class StackError(RuntimeError):
    """The local stack could not be started or reached."""


@dataclass(frozen=True)
class Component:
    """One server of the stack and the AWS services it answers for."""

    name: str
    services: tuple[str, ...]
    health_path: str


#: Which server answers DynamoDB: `dynalite` (default: measured p50 22 ms / p99 79 ms put →
#: decision at 167 tx/s where moto gave 6.4 s / 12.4 s; crash-safe on LevelDB; no DynamoDB
#: Streams) or `moto` (Streams, changes journalled like SageMaker's). `SECUREBANK_LOCAL_DYNAMODB`.
DYNAMODB_SERVERS = ("dynalite", "moto")


def dynamodb_server() -> str:
    choice = os.environ.get("SECUREBANK_LOCAL_DYNAMODB", "dynalite")
    if choice not in DYNAMODB_SERVERS:
        raise StackError(f"SECUREBANK_LOCAL_DYNAMODB must be one of {', '.join(DYNAMODB_SERVERS)}")
    return choice


def components() -> tuple[Component, ...]:
    """The stack's servers, the slowest to boot first."""
    if dynamodb_server() == "dynalite":
        return (
            Component("ministack", ("s3", "sns", "sqs"), "/_ministack/health"),
            Component("moto", ("sagemaker",), "/moto-api/config"),
            Component("dynamodb", ("dynamodb",), "/"),
            Component("kinesis", ("kinesis",), "/"),
        )
    return (
        Component("ministack", ("s3", "sns", "sqs"), "/_ministack/health"),
        Component("moto", ("sagemaker", "dynamodb", "dynamodbstreams"), "/moto-api/config"),
        Component("kinesis", ("kinesis",), "/"),
    )


@dataclass(frozen=True)
class Stack:
    """The running stack: one server per component."""

    servers: dict[str, ServerInfo]

    @property
    def url(self) -> str:
        """The default endpoint (moto: SageMaker, and any service without its own)."""
        return self.servers["moto"].url

    @property
    def service_endpoints(self) -> dict[str, str]:
        return {service: self.servers[c.name].url for c in components() for service in c.services}

    def environment(self) -> dict[str, str]:
        """boto3's variables that send every client of another process to this stack."""
        env = {"AWS_ENDPOINT_URL": self.url}
        for service, url in self.service_endpoints.items():
            env[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = url
        return env


def data_dir(home: Path) -> Path:
    return home / DATA_DIR


def _read_recorded(home: Path, end_legacy: bool = False) -> dict[str, ServerInfo]:
    path = home / STATE_FILE
    if not path.is_file():
        return {}
    try:
        recorded = json.loads(path.read_text())
    except ValueError:
        return {}
    if "servers" not in recorded and "pid" in recorded:
        if not end_legacy:
            return {}
        # the layout of one moto server, which kept nothing: end it, the stack replaces it
        background.terminate(int(recorded["pid"]), grace_s=5.0)
        path.unlink(missing_ok=True)
        return {}
    try:
        return {name: ServerInfo(**info) for name, info in recorded["servers"].items()}
    except (KeyError, TypeError, AttributeError):
        return {}


def _answering(recorded: dict[str, ServerInfo]) -> dict[str, ServerInfo]:
    by_name = {c.name: c for c in components()}
    return {
        name: info
        for name, info in recorded.items()
        if name in by_name
        and background.alive(info.pid)
        and background.answers(info.url + by_name[name].health_path, timeout=5.0)
    }


def read_info(home: Path) -> Stack | None:
    """The recorded stack, if all of its servers still answer."""
    servers = _answering(_read_recorded(home))
    return Stack(servers) if len(servers) == len(components()) else None


def status(home: Path) -> dict[str, ServerInfo | None]:
    """Each component's server, or None where it is not running."""
    servers = _answering(_read_recorded(home))
    return {c.name: servers.get(c.name) for c in components()}


def _command(component: str, port: int, home: Path) -> tuple[list[str], dict[str, str]]:
    data = data_dir(home)
    if component in ("dynamodb", "kinesis"):
        node = shutil.which("node")
        serve = LOCAL_AWS_DIR / "serve.js"
        if node is None or not (LOCAL_AWS_DIR / "node_modules" / "dynalite").is_dir():
            raise StackError(f"dynalite/kinesalite are not installed: {INSTALL_HINT}")
        folder = data / component
        folder.mkdir(parents=True, exist_ok=True)
        return [node, str(serve), component, "--port", str(port), "--path", str(folder)], {}
    if component == "ministack":
        if not MINISTACK_PYTHON.is_file():
            raise StackError(f"MiniStack is not installed: {INSTALL_HINT}")
        folder = data / "ministack"
        env = {
            "BIND_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(port),
            "PERSIST_STATE": "1",
            "STATE_DIR": str(folder / "state"),
            "S3_PERSIST": "1",
            "S3_DATA_DIR": str(folder / "s3"),
            "IOT_MTLS_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
            "TMPDIR": str(folder),
            "SECUREBANK_SNAPSHOT_S": str(SNAPSHOT_S),
        }
        return [str(MINISTACK_PYTHON), str(LOCAL_AWS_DIR / "ministack_serve.py")], env
    journal = data / "sagemaker.jsonl"
    env = {"MOTO_RECORDER_FILEPATH": str(journal)}
    # moto's server, DescribeEndpoint answering as AWS does (securebank/local/sagemaker_server.py)
    command = [
        sys.executable,
        "-m",
        "securebank.local.sagemaker_server",
        "-H",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    return command, env


def start(home: Path, port: int | None = None) -> Stack:
    """Start every server of the local AWS that is not running; return where they listen.

    `port`, when given, is the first of four consecutive ports (MiniStack, moto, DynamoDB,
    Kinesis); otherwise each server gets the port it had last time, or a free one.
    """
    running = _answering(_read_recorded(home, end_legacy=True))
    if len(running) == len(components()):
        return Stack(running)
    servers = dict(running)
    data_dir(home).mkdir(parents=True, exist_ok=True)
    ports_file = data_dir(home) / PORTS_FILE
    saved = json.loads(ports_file.read_text()) if ports_file.is_file() else {}
    try:
        for offset, component in enumerate(components()):
            if component.name in servers:
                continue
            chosen = port + offset if port else saved.get(component.name)
            if chosen is None or not _bindable(chosen):
                if chosen is not None and component.name == "ministack":
                    raise StackError(
                        f"port {chosen} is in use: MiniStack's saved queue URLs name it; free it "
                        "(or `securebank stack reset --yes` to start empty)"
                    )
                chosen = background.free_port()
            if component.name == "moto":
                _compact_journal(data_dir(home) / "sagemaker.jsonl")
            command, env = _command(component.name, chosen, home)
            info = background.launch(
                command,
                chosen,
                home / f"stack-{component.name}.log",
                component.health_path,
                wait_seconds=60.0,
                env=env,
            )
            if component.name == "moto":
                _replay_journal(info.url, data_dir(home) / "sagemaker.jsonl")
            servers[component.name] = info
            _record(home, servers)
            saved[component.name] = chosen
            ports_file.write_text(json.dumps(saved))
    except background.ServerError as error:
        raise StackError(f"the local AWS: {error}") from error
    return Stack(servers)


def _bindable(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _record(home: Path, servers: dict[str, ServerInfo]) -> None:
    state = {"servers": {name: {"pid": s.pid, "port": s.port} for name, s in servers.items()}}
    (home / STATE_FILE).write_text(json.dumps(state))


def stop(home: Path) -> bool:
    """Stop the local AWS gracefully (state is kept); False when none was running."""
    recorded = _read_recorded(home, end_legacy=True)
    (home / STATE_FILE).unlink(missing_ok=True)
    stopped = [background.terminate(info.pid, grace_s=20.0) for info in recorded.values()]
    return any(stopped)


def reset(home: Path) -> None:
    """Stop the local AWS and delete everything it held (on purpose)."""
    stop(home)
    shutil.rmtree(data_dir(home), ignore_errors=True)


# The SageMaker control plane: moto keeps it in memory, so every request is journalled (moto's
# recorder appends each one to a file before answering) and the changes are replayed on start.
_READ_ONLY_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Search",
    "Query",
    "Scan",
    "BatchDescribe",
    "BatchGet",
)


def _is_change(entry: dict[str, Any]) -> bool:
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    action = str(headers.get("x-amz-target", "")).rsplit(".", 1)[-1]
    return bool(action) and not action.startswith(_READ_ONLY_PREFIXES)


def _compact_journal(journal: Path) -> None:
    """Keep only the changes (reads need no replay); a torn last line is dropped."""
    if not journal.is_file():
        return
    kept = []
    for line in journal.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if _is_change(entry):
            kept.append(json.dumps(entry))
    tmp = journal.with_suffix(".tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    tmp.replace(journal)


def _post(url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _replay_journal(url: str, journal: Path) -> None:
    """Replay the journalled SageMaker changes into a fresh moto, then journal new requests."""
    import base64

    if journal.is_file():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            body = entry.get("body") or ""
            data = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
            headers = {
                k: v
                for k, v in entry["headers"].items()
                if k.lower() not in ("host", "content-length", "transfer-encoding")
            }
            path = "/" + entry["url"].split("://", 1)[-1].split("/", 1)[-1]
            # A change refused now was refused then too (a duplicate create): same state.
            with contextlib.suppress(urllib.error.HTTPError):
                _post(url + path, data, headers)
    _post(url + "/moto-api/recorder/start-recording")


def holdings(aws: Any) -> dict[str, list[str]]:
    """What the stack holds, by kind: buckets, tables and streams (names, sorted)."""
    return {
        "buckets": sorted(b["Name"] for b in aws.client("s3").list_buckets()["Buckets"]),
        "tables": sorted(aws.client("dynamodb").list_tables()["TableNames"]),
        "streams": sorted(aws.client("kinesis").list_streams()["StreamNames"]),
    }


def provision(aws: Any, names: ResourceNames) -> list[str]:
    """Create every resource the platform uses, if missing; return what was created.

    `aws` is an `AwsClients`. Names, keys, shard count, TTL attribute and index are those of
    terraform/ (tests/terraform/test_terraform.py holds the two together).
    """
    created: list[str] = []
    s3 = aws.client("s3")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in names.buckets():
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
            created.append(f"s3://{bucket}")
    sagemaker = aws.client("sagemaker")
    groups = sagemaker.list_model_package_groups(NameContains=names.model_package_group)
    if not any(
        g["ModelPackageGroupName"] == names.model_package_group
        for g in groups["ModelPackageGroupSummaryList"]
    ):
        sagemaker.create_model_package_group(
            ModelPackageGroupName=names.model_package_group,
            ModelPackageGroupDescription="SecureBank fraud model versions",
        )
        created.append(f"model package group {names.model_package_group}")
    created += _provision_stream(aws, names)
    return created


def _enable_ttl(dynamodb: Any, table: str) -> None:
    """Declare the TTL attribute; dynalite has no UpdateTimeToLive (it never expires items,
    like moto did): readers filter on the expiry attribute themselves either way."""
    from botocore.exceptions import ClientError

    try:
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": STATE_TTL_ATTRIBUTE},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("UnknownOperationException", "400"):
            raise


def _exists(describe: Any) -> bool:
    try:
        describe()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return False
        raise
    return True


def _provision_stream(aws: Any, names: ResourceNames) -> list[str]:
    created: list[str] = []
    kinesis = aws.client("kinesis")
    # Asked by name: ListStreams and ListTables answer 100 names a page, and a busy local stack
    # (the test suite's) holds more.
    if not _exists(lambda: kinesis.describe_stream_summary(StreamName=names.stream)):
        kinesis.create_stream(StreamName=names.stream, ShardCount=STREAM_SHARDS)
        kinesis.get_waiter("stream_exists").wait(
            StreamName=names.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        created.append(f"kinesis stream {names.stream} ({STREAM_SHARDS} shards)")
    dynamodb = aws.client("dynamodb")
    if not _exists(lambda: dynamodb.describe_table(TableName=names.feature_table)):
        dynamodb.create_table(
            TableName=names.feature_table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        _enable_ttl(dynamodb, names.feature_table)
        created.append(f"dynamodb table {names.feature_table}")
    if not _exists(lambda: dynamodb.describe_table(TableName=names.decisions_table)):
        dynamodb.create_table(
            TableName=names.decisions_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "transaction_id", "AttributeType": "S"},
                {"AttributeName": "card_id", "AttributeType": "S"},
                {"AttributeName": "event_time", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": DECISIONS_BY_CARD_INDEX,
                    "KeySchema": [
                        {"AttributeName": "card_id", "KeyType": "HASH"},
                        {"AttributeName": "event_time", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        created.append(f"dynamodb table {names.decisions_table}")
    existing = {
        table
        for table in (names.cases_table, names.labels_table)
        if _exists(lambda table=table: dynamodb.describe_table(TableName=table))
    }
    created += _provision_operations(dynamodb, names, existing)
    if not _exists(lambda: dynamodb.describe_table(TableName=names.idempotency_table)):
        dynamodb.create_table(
            TableName=names.idempotency_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        _enable_ttl(dynamodb, names.idempotency_table)
        created.append(f"dynamodb table {names.idempotency_table}")
    sqs = aws.client("sqs")
    urls = {}
    for queue in names.queues():
        urls[queue] = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name=names.alerts_topic)["TopicArn"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=urls[names.alerts_queue], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(s["Endpoint"] == queue_arn for s in subscriptions):
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        created.append(f"sns topic {names.alerts_topic} → sqs {names.alerts_queue}")
    return created


def _provision_operations(dynamodb: Any, names: ResourceNames, tables: set[str]) -> list[str]:
    """The fraud-operations tables: cases (queue by status) and labels (streamed)."""
    created = []
    if names.cases_table not in tables:
        dynamodb.create_table(
            TableName=names.cases_table,
            KeySchema=[{"AttributeName": "case_id", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "case_id", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "created_at", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": CASES_BY_STATUS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        created.append(f"dynamodb table {names.cases_table}")
    if names.labels_table not in tables:
        dynamodb.create_table(
            TableName=names.labels_table,
            KeySchema=[{"AttributeName": "transaction_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "transaction_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        created.append(f"dynamodb table {names.labels_table} (with stream)")
    return created
