"""The local event source mapping in one process per group of shards.

Lambda gives each shard's batches an execution environment of their own, so two shards are scored
on two CPUs. The threads of one Python process share one interpreter lock instead: the scorer's
CPU per transaction (mostly boto3's conditional writes) then caps the whole stream at what one
core does. `ShardProcesses` runs an `EventSourceMapping` for each group of shards in its own
process (started with `spawn`, so nothing of the parent's clients or threads is inherited), all
sharing one checkpoint file, which `Checkpoints` keeps safe for several writers.

Each worker builds its handler with `WorkerPlan.handler_factory` (a module-level function, so it
can be sent to the new process) and appends its standard output, the handler's logs and EMF
lines, to `WorkerPlan.output`, one whole line per write. A worker that cannot start (stale
checkpoints, no model to fall back to) stops the others, and `start` raises `WorkerFailed` with
its message.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from securebank.local.event_source import (
    Checkpoints,
    EventSourceMapping,
    Handler,
    MappingConfig,
    PollerStats,
)

if TYPE_CHECKING:
    from securebank.settings import Settings

#: Per worker in the shared counters: records, batches, retries, failed batches.
_FIGURES = 4
#: How often a worker publishes its figures and looks for the stop signal (seconds).
_PUBLISH_S = 0.1


class WorkerFailed(RuntimeError):
    """A shard process could not start; the message is the worker's own error."""


@dataclass(frozen=True)
class WorkerPlan:
    """What every shard process runs."""

    settings: Settings
    #: Builds the Lambda handler inside the worker (module-level: it is pickled by reference).
    handler_factory: Callable[[Settings], Handler]
    mapping: MappingConfig
    checkpoints: Path
    #: The file each worker's standard output is appended to; None: the parent's.
    output: Path | None = None
    #: Called in the worker after its mapping has stopped (module-level, like the factory).
    finish: Callable[[], None] | None = None


def shard_groups(shards: Sequence[str], processes: int) -> list[list[str]]:
    """`shards` dealt round-robin into at most `processes` non-empty groups."""
    count = max(1, min(processes, len(shards)))
    return [list(shards[i::count]) for i in range(count)]


class ShardProcesses:
    """One process per group of shards, started and stopped together."""

    def __init__(
        self, plan: WorkerPlan, groups: Sequence[Sequence[str]], start_timeout_s: float = 120.0
    ) -> None:
        self.plan = plan
        self.groups = [list(g) for g in groups]
        self.start_timeout_s = start_timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._figures = self._context.Array("q", _FIGURES * len(self.groups), lock=False)
        self._ready: Any = self._context.Queue()
        self._processes = [
            self._context.Process(
                target=_work,
                args=(plan, index, group, self._stop, self._figures, self._ready),
                name=f"shards-{'-'.join(group)}",
                daemon=True,
            )
            for index, group in enumerate(self.groups)
        ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def start(self) -> None:
        """Start every worker and wait until each polls (or one fails: WorkerFailed)."""
        for process in self._processes:
            process.start()
        problems = []
        for _ in self._processes:
            try:
                _, problem = self._ready.get(timeout=self.start_timeout_s)
            except Exception:  # queue.Empty: a worker neither started nor failed in time
                problem = f"a shard process did not start within {self.start_timeout_s:g} s"
            if problem:
                problems.append(problem)
                break
        if problems:
            self.close(timeout=10.0)
            raise WorkerFailed(problems[0])

    def close(self, timeout: float = 30.0) -> None:
        """Ask every worker to finish its batch and stop; kill one that does not in time."""
        self._stop.set()
        for process in self._processes:
            if process.pid is None:
                continue
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(5)

    def stats(self) -> PollerStats:
        """The workers' figures, summed (published every `_PUBLISH_S` and when they stop)."""
        totals = [0] * _FIGURES
        for index in range(len(self.groups)):
            for k in range(_FIGURES):
                totals[k] += self._figures[index * _FIGURES + k]
        return PollerStats(
            records=totals[0], batches=totals[1], retries=totals[2], failed_batches=totals[3]
        )

    @property
    def records(self) -> int:
        return self.stats().records


def _publish(stats: PollerStats, figures: Any, index: int) -> None:
    base = index * _FIGURES
    figures[base : base + _FIGURES] = [
        stats.records,
        stats.batches,
        stats.retries,
        stats.failed_batches,
    ]


def _work(
    plan: WorkerPlan,
    index: int,
    shards: list[str],
    stop: Any,
    figures: Any,
    ready: Any,
) -> None:
    """A worker's life: build the handler and the mapping, poll until told to stop."""
    if plan.output is not None:
        output = os.open(plan.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(output, sys.stdout.fileno())
        os.close(output)
    # one write per line, so lines of several workers appended to one file never interleave
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    try:
        from securebank.aws import connect

        handler = plan.handler_factory(plan.settings)
        aws = connect(plan.settings, provision=False)
        mapping = EventSourceMapping.for_stream(
            kinesis=aws.client("kinesis"),
            sqs=aws.client("sqs"),
            stream_name=plan.settings.names.stream,
            handler=handler,
            config=plan.mapping,
            checkpoints=Checkpoints(plan.checkpoints),
            region=plan.settings.region,
            shards=shards,
        )
    except Exception as error:
        ready.put((index, str(error) or type(error).__name__))
        return
    ready.put((index, None))
    mapping.start()
    while not stop.wait(_PUBLISH_S):
        _publish(mapping.stats(), figures, index)
    mapping.close()
    _publish(mapping.stats(), figures, index)
    if plan.finish is not None:
        plan.finish()
    sys.stdout.flush()
