"""The Glue job (Python shell) that compacts the JSON-lines lake into daily Parquet.

Terraform (terraform/glue.tf) uploads this script and securebank/analytics/compaction.py, which
Glue puts beside it (`--extra-py-files`); locally the same code runs as `securebank lake compact`.
Arguments: `--lake_bucket NAME` and optionally `--days N` (only the last N days; default all)
and `--force true`. Prints one JSON line per day and a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

import boto3

try:
    from securebank.analytics.compaction import compact
except ImportError:  # in Glue: shipped beside the script by --extra-py-files
    from compaction import compact  # type: ignore[no-redef]


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake_bucket", required=True)
    parser.add_argument("--days", type=int, default=0)
    parser.add_argument("--force", default="false")
    # Glue adds its own arguments (--job-bookmark-option, --scriptLocation, ...).
    known, _ = parser.parse_known_args(argv)
    return known


def main(argv: list[str] | None = None) -> int:
    args = _arguments(sys.argv[1:] if argv is None else argv)
    start = None
    if args.days > 0:
        start = datetime.now(timezone.utc).date() - timedelta(days=args.days - 1)
    began = time.perf_counter()
    results = compact(
        boto3.client("s3"),
        args.lake_bucket,
        start=start,
        force=args.force.lower() == "true",
        on_day=lambda r: print(json.dumps(asdict(r)), flush=True),
    )
    done = [r for r in results if not r.skipped]
    summary = {
        "days": len(results),
        "compacted": len(done),
        "rows": sum(r.rows for r in done),
        "rejected": sum(r.rejected for r in done),
        "seconds": round(time.perf_counter() - began, 2),
        "as_of": datetime.now(timezone.utc).date().isoformat(),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
