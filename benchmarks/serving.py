"""Benchmark: this model server vs `mlflow models serve`, same model, same client, loopback.

A 300-tree, depth-6 XGBoost model on the platform's 32 features is served both ways; one client
sends N sequential requests per scenario over one keep-alive connection: batch 1 and batch 100,
scores only (as MLflow returns), then our server with reason codes on every row.

    python benchmarks/serving.py [--requests N]
Last line: {"batch1": {"ours_rps", "mlflow_rps", "ratio", "ours_p50_ms", "ours_p99_ms", ...},
"batch100": {...}, "explain_all": {...}}
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit


def _model(folder: Path) -> tuple[Path, Path, np.ndarray]:
    import mlflow
    import xgboost as xgb

    from securebank.features.definitions import FEATURE_NAMES, FEATURE_SET_VERSION
    from securebank.model_artifact import ModelManifest, save_model_dir

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, len(FEATURE_NAMES))).astype(np.float32)
    y = (x[:, 0] + x[:, 1] * x[:, 2] + rng.normal(size=len(x)) > 2).astype(int)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1},
        xgb.DMatrix(x, label=y, feature_names=list(FEATURE_NAMES)),
        300,
    )
    ours = folder / "ours"
    manifest = ModelManifest(
        feature_names=list(FEATURE_NAMES),
        feature_set_version=FEATURE_SET_VERSION,
        review_threshold=0.5,
        decline_threshold=0.9,
        threshold_rule="benchmark",
        training_range={},
    )
    save_model_dir(ours, booster, manifest)
    theirs = folder / "mlflow"
    mlflow.xgboost.save_model(booster, str(theirs))
    return ours, theirs, x


def _wait(port: int, path: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become healthy")


def _measure(port: int, path: str, body: bytes, headers: dict[str, str], n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for i in range(n + 20):
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        if i >= 20:  # warm-up excluded
            times.append(time.perf_counter() - start)
    conn.close()
    return times


def _figures(times: list[float]) -> dict[str, float]:
    ms = np.array(times) * 1000
    return {
        "rps": round(len(ms) / (ms.sum() / 1000), 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    from securebank.local.background import free_port

    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        ours_dir, mlflow_dir, x = _model(Path(tmp))
        from securebank.features.definitions import FEATURE_NAMES

        ours_port, mlflow_port = free_port(), free_port()
        ours = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "securebank.image",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(ours_port),
                "--model-dir",
                str(ours_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        theirs = subprocess.Popen(
            [
                os.path.join(bin_dir, "mlflow"),
                "models",
                "serve",
                "-m",
                str(mlflow_dir),
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(mlflow_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        try:
            _wait(ours_port, "/ping", ours)
            _wait(mlflow_port, "/ping", theirs)
            results: dict[str, dict[str, float]] = {}
            for batch in (1, 100):
                rows = x[:batch]
                csv = "\n".join(",".join(f"{v:.6g}" for v in r) for r in rows).encode()
                frame = {"dataframe_split": {"columns": list(FEATURE_NAMES), "data": rows.tolist()}}
                ours_times = _measure(
                    ours_port,
                    "/invocations",
                    csv,
                    {
                        "Content-Type": "text/csv",
                        "X-Amzn-SageMaker-Custom-Attributes": "explain=none",
                    },
                    args.requests,
                )
                mlflow_times = _measure(
                    mlflow_port,
                    "/invocations",
                    json.dumps(frame).encode(),
                    {"Content-Type": "application/json"},
                    args.requests,
                )
                o, m = _figures(ours_times), _figures(mlflow_times)
                results[f"batch{batch}"] = {
                    "ours_rps": o["rps"],
                    "mlflow_rps": m["rps"],
                    "ratio": round(o["rps"] / m["rps"], 2),
                    "ours_rows_per_s": round(o["rps"] * batch, 1),
                    "mlflow_rows_per_s": round(m["rps"] * batch, 1),
                    "ours_p50_ms": o["p50_ms"],
                    "ours_p99_ms": o["p99_ms"],
                    "mlflow_p50_ms": m["p50_ms"],
                    "mlflow_p99_ms": m["p99_ms"],
                }
                explained = _figures(
                    _measure(
                        ours_port,
                        "/invocations",
                        csv,
                        {
                            "Content-Type": "text/csv",
                            "X-Amzn-SageMaker-Custom-Attributes": "explain=all",
                        },
                        max(args.requests // 10, 50),
                    )
                )
                results[f"batch{batch}_reason_codes_all_rows"] = {
                    "ours_rps": explained["rps"],
                    "ours_p50_ms": explained["p50_ms"],
                    "ours_p99_ms": explained["p99_ms"],
                }
        finally:
            for process in (ours, theirs):
                process.terminate()
                process.wait(timeout=20)
    emit(results)


if __name__ == "__main__":
    main()
