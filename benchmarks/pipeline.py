"""Benchmark: `pipeline run` (features, train, evaluate, gate, register) on N transactions.

Goal: 1,000,000 transactions in at most 5 minutes on 2 cores. The dataset is generated first
(not timed) and uploaded to a local AWS (moto's server on 127.0.0.1); the timed part is the whole
local pipeline run, in its own process, whose peak RSS is reported.

    python benchmarks/pipeline.py [--transactions N]
Last line: {"transactions": N, "seconds": S, "peak_mb": M, "ap": A, "roc_auc": R,
"cp_at_100": C, "recall_at_1pct_fpr": F, "baseline_ap": B}
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import emit, peak_rss_mb_of


def _run(endpoint: str, workdir: str) -> dict:
    from securebank.aws import AwsClients
    from securebank.pipelines.local_runner import run_pipeline
    from securebank.registry import ModelRegistry
    from securebank.resources import ResourceNames

    names = ResourceNames(environment="bench")
    aws = AwsClients(region="us-east-1", endpoint_url=endpoint, local=True)
    run = run_pipeline(
        s3=aws.client("s3"),
        registry=ModelRegistry(aws.client("sagemaker"), names.model_package_group),
        names=names,
        image_uri="securebank:bench",
        workdir=Path(workdir),
    )
    return {"evaluation": run.evaluation, "steps": run.step_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    from securebank.aws import AwsClients
    from securebank.data.simulator.generate import SimulationConfig, generate
    from securebank.data.upload import upload_dataset
    from securebank.local.stack import provision
    from securebank.resources import ResourceNames

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            data = Path(folder) / "data"
            generate(SimulationConfig(transactions=args.transactions, seed=7), data)
            names = ResourceNames(environment="bench")
            aws = AwsClients(region="us-east-1", endpoint_url=endpoint, local=True)
            provision(aws, names)
            upload_dataset(aws.client("s3"), data, names)
            seconds, peak_mb, result = peak_rss_mb_of(_run, endpoint, str(Path(folder) / "work"))
    finally:
        server.stop()
    evaluation = result["evaluation"]
    for step, step_seconds in result["steps"].items():
        print(f"{'step ' + step:>28}: {step_seconds:.1f} s")
    metrics = {name: round(m["value"], 4) for name, m in evaluation["metrics"].items()}
    emit(
        {
            "transactions": args.transactions,
            "seconds": round(seconds, 1),
            "peak_mb": round(peak_mb, 1),
            **metrics,
            "baseline_ap": round(evaluation["baseline"]["ap"]["value"], 4),
        }
    )


if __name__ == "__main__":
    main()
