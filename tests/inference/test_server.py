"""The model server over real HTTP, called with boto3's sagemaker-runtime client unchanged."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from securebank.features.definitions import FEATURE_NAMES
from securebank.inference.capture import CaptureWriter
from securebank.inference.endpoint import Endpoint, EndpointConfig, VariantSpec
from securebank.inference.server import ModelServer, start_in_thread
from tests.inference.conftest import row

NAME = "sb-endpoint"


@pytest.fixture
def server(tmp_path):
    endpoint = Endpoint()
    srv = ModelServer(("127.0.0.1", 0), endpoint, CaptureWriter(tmp_path / "capture"))
    start_in_thread(srv)
    yield srv
    srv.shutdown()
    srv.server_close()


def runtime(srv):
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )


def single(model_dirs, version="1"):
    return EndpointConfig(NAME, (VariantSpec(f"v{version}", version, str(model_dirs[version])),))


def csv(*rows):
    return "\n".join(",".join(str(v) for v in r) for r in rows)


def status_of(url, method="GET", body=None):
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_ping_is_unhealthy_until_a_model_is_loaded(server, model_dirs):
    assert status_of(server.url + "/ping")[0] == 503
    server.endpoint.apply(single(model_dirs))
    assert status_of(server.url + "/ping") == (200, {"status": "healthy"})


def test_invoke_endpoint_scores_and_explains_flagged_rows(server, model_dirs):
    server.endpoint.apply(single(model_dirs))
    response = runtime(server).invoke_endpoint(
        EndpointName=NAME, Body=csv(row(3.0, 3.0), row(-2.0)), ContentType="text/csv"
    )
    assert response["InvokedProductionVariant"] == "v1"
    assert response["CustomAttributes"] == "model_version=1"
    high, low = json.loads(response["Body"].read())["predictions"]
    assert high["score"] > 0.5 > low["score"]
    assert high["decision"] in ("review", "decline") and low["decision"] == "approve"
    assert high["reason_codes"][0]["feature"] in FEATURE_NAMES[:2]
    assert high["explain_method"] == "treeshap" and "reason_codes" not in low


def test_json_records_and_explain_attributes(server, model_dirs):
    server.endpoint.apply(single(model_dirs))
    body = json.dumps({"instances": [{"amount_usd": -2.0}]})
    response = runtime(server).invoke_endpoint(
        EndpointName=NAME,
        Body=body,
        ContentType="application/json",
        CustomAttributes="explain=all,explain_method=approx-contribs",
    )
    (prediction,) = json.loads(response["Body"].read())["predictions"]
    assert prediction["explain_method"] == "approx-contribs"
    assert isinstance(prediction["reason_codes"], list)
    assert status_of(server.url + "/invocations", "POST", b"1,2")[0] == 415


def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(server, model_dirs):
    server.endpoint.apply(single(model_dirs))
    client = runtime(server)
    errors = client.exceptions
    expected = f"row 1 has 2 values, the model takes {len(FEATURE_NAMES)}"
    with pytest.raises(errors.ValidationError, match=expected):
        client.invoke_endpoint(EndpointName=NAME, Body="1,2", ContentType="text/csv")
    with pytest.raises(errors.ValidationError, match="unsupported content type"):
        client.invoke_endpoint(EndpointName=NAME, Body="1", ContentType="text/plain")
    with pytest.raises(errors.ValidationError, match="Endpoint other not found"):
        client.invoke_endpoint(EndpointName="other", Body=csv(row(1)), ContentType="text/csv")
    with pytest.raises(errors.ValidationError, match="no production variant named 'v9'"):
        client.invoke_endpoint(
            EndpointName=NAME, Body=csv(row(1)), ContentType="text/csv", TargetVariant="v9"
        )
    ok = client.invoke_endpoint(EndpointName=NAME, Body=csv(row(1)), ContentType="text/csv")
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_canary_routes_by_weight_and_target_variant_pins(server, model_dirs):
    server.endpoint.apply(
        EndpointConfig(
            NAME,
            (
                VariantSpec("v1", "1", str(model_dirs["1"]), 50),
                VariantSpec("v2", "2", str(model_dirs["2"]), 50),
            ),
        )
    )
    client = runtime(server)
    seen = [
        client.invoke_endpoint(EndpointName=NAME, Body=csv(row(0)), ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(60)
    ]
    assert set(seen) == {"v1", "v2"}
    pinned = client.invoke_endpoint(
        EndpointName=NAME, Body=csv(row(0)), ContentType="text/csv", TargetVariant="v2"
    )
    assert pinned["CustomAttributes"] == "model_version=2"


def test_shadow_scores_are_captured_and_never_returned(server, model_dirs, tmp_path):
    config = single(model_dirs)
    server.endpoint.apply(
        EndpointConfig(NAME, config.variants, VariantSpec("v2", "2", str(model_dirs["2"])))
    )
    response = runtime(server).invoke_endpoint(
        EndpointName=NAME, Body=csv(row(3.0, 3.0)), ContentType="text/csv", InferenceId="inf-1"
    )
    (prediction,) = json.loads(response["Body"].read())["predictions"]
    assert prediction["model_version"] == "1"
    captured_records = []
    for _ in range(100):  # capture is written after the response is sent
        captured_records = server.capture.read()
        if captured_records:
            break
        time.sleep(0.02)
    (captured,) = captured_records
    assert captured["inference_id"] == "inf-1"
    assert captured["production"]["scores"] == [prediction["score"]]
    assert captured["shadow"]["model_version"] == "2" and len(captured["shadow"]["scores"]) == 1


def test_a_model_of_other_features_is_refused_and_the_old_one_keeps_serving(server, model_dirs):
    server.endpoint.apply(single(model_dirs))
    bad = single(model_dirs, "other").to_dict()
    status, body = status_of(server.url + "/admin/config", "POST", json.dumps(bad).encode())
    assert status == 400 and "feature set fs-000000000000" in body["message"]
    assert server.endpoint.config.variants[0].model_version == "1"


def test_switching_versions_under_load_drops_no_request(server, model_dirs):
    server.endpoint.apply(single(model_dirs))
    client = runtime(server)
    failures: list[str] = []
    versions: set[str] = set()
    served = [0]
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                r = client.invoke_endpoint(
                    EndpointName=NAME, Body=csv(row(1.0)), ContentType="text/csv"
                )
                versions.add(r["CustomAttributes"])
                served[0] += 1
            except Exception as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(20):
        server.endpoint.apply(single(model_dirs, "2" if i % 2 == 0 else "1"))
        before, deadline = served[0], time.monotonic() + 10
        while served[0] < before + 3 and time.monotonic() < deadline:  # let each config serve
            time.sleep(0.001)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert versions == {"model_version=1", "model_version=2"}
