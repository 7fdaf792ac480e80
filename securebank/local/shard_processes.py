"""The local event source mapping in one process per group of shards.

Lambda gives each shard's batches an execution environment of their own, so two shards are scored
on two CPUs. The threads of one Python process share one interpreter lock instead: the scorer's
CPU per transaction (mostly boto3's conditional writes) then caps the whole stream at what one
core does. `ShardProcesses` runs an `EventSourceMapping` for each group of shards in its own
process (started with `spawn`, so nothing of the parent's clients or threads is inherited), all
sharing one checkpoint file, which `Checkpoints` keeps safe for several writers.

Each worker builds its handler with `WorkerPlan.handler_factory` (a module-level function, so it
can be sent to the new process) and appends its standard output, the handler's logs and EMF
lines, to `WorkerPlan.output` through `WholeLines`, so that lines never interleave. A worker that
cannot start (stale checkpoints, no model to fall back to) stops the others, and `start` raises
`WorkerFailed` with its message.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import signal
import sys
import threading
import time
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
#: A worker's exit code when one of its pollers stopped on an error.
_POLLER_FAILED = 3
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
        # Only lock-free shared memory and one pipe per worker: a worker killed with SIGKILL
        # while holding a multiprocessing lock (an Event's, a Queue's) would hang the others.
        self._stopping = self._context.Value("b", 0, lock=False)
        self._figures = self._context.Array("q", _FIGURES * len(self.groups), lock=False)
        #: Figures of workers that died and were started again, kept so that totals only grow.
        self._carried = [0] * (_FIGURES * len(self.groups))
        self._readers: list[Any] = [None] * len(self.groups)
        self._processes = [self._process(index) for index in range(len(self.groups))]

    def _process(self, index: int) -> Any:
        reader, writer = self._context.Pipe(duplex=False)
        self._readers[index] = reader
        group = self.groups[index]
        return self._context.Process(
            target=_work,
            args=(self.plan, index, group, self._stopping, self._figures, writer),
            name=f"shards-{'-'.join(group)}",
            daemon=True,
        )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    @property
    def exitcodes(self) -> list[int | None]:
        """Each worker's exit code (None: still running or never started)."""
        return [p.exitcode for p in self._processes]

    def start(self) -> None:
        """Start every worker and wait until each polls (or one fails: WorkerFailed)."""
        for process in self._processes:
            process.start()
        self._await_ready(list(range(len(self._processes))))

    def _await_ready(self, indices: list[int]) -> None:
        waiting = set(indices)
        deadline = time.monotonic() + self.start_timeout_s
        problem = None
        while waiting and problem is None:
            for index in sorted(waiting):
                reader, process = self._readers[index], self._processes[index]
                if reader.poll(0.1):
                    try:
                        problem = reader.recv()
                    except EOFError:  # it died before saying anything
                        problem = f"shard process {process.name} exited with {process.exitcode}"
                    waiting.discard(index)
                elif process.exitcode is not None:
                    problem = f"shard process {process.name} exited with {process.exitcode}"
                if problem is not None:
                    break
            if problem is None and waiting and time.monotonic() > deadline:
                problem = f"a shard process did not start within {self.start_timeout_s:g} s"
        if problem is not None:
            self.close(timeout=10.0)
            raise WorkerFailed(problem)

    def revive(self) -> list[str]:
        """Start again each worker that died while the others run (a kill -9, a crash), as
        Lambda retries a shard's batch in a new container: it resumes after the last batch it
        checkpointed, and redoing the batch in hand is idempotent. Returns their names and
        exit codes; WorkerFailed if one cannot start again."""
        if self._stopping.value:
            return []
        revived: list[str] = []
        started: list[int] = []
        for index, process in enumerate(self._processes):
            if process.exitcode is None:
                continue
            base = index * _FIGURES
            for k in range(_FIGURES):
                self._carried[base + k] += self._figures[base + k]
                self._figures[base + k] = 0
            revived.append(f"{process.name} (exit code {process.exitcode})")
            self._processes[index] = self._process(index)
            self._processes[index].start()
            started.append(index)
        if revived:
            self._await_ready(started)
        return revived

    def close(self, timeout: float = 30.0) -> None:
        """Ask every worker to finish its batch and stop; kill one that does not in time."""
        self._stopping.value = 1
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
                totals[k] += (
                    self._figures[index * _FIGURES + k] + self._carried[index * _FIGURES + k]
                )
        return PollerStats(
            records=totals[0], batches=totals[1], retries=totals[2], failed_batches=totals[3]
        )

    @property
    def records(self) -> int:
        return self.stats().records


class WholeLines(io.TextIOBase):
    """A text stream that writes only whole lines, each in one `os.write`.

    `print` hands a stream the line and its newline in two calls, which a buffered stream may
    pass on as two writes: another process appending to the same file, or another thread
    printing, can land between them. Here each thread's text waits until its line is complete.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = threading.local()

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        if "\n" in pending:
            lines, _, pending = pending.rpartition("\n")
            _write_all(self._fd, (lines + "\n").encode())
        self._pending.text = pending
        return len(text)

    def close(self) -> None:
        """Write what this thread has left (a line without its newline), then close the file."""
        if getattr(self._pending, "text", ""):
            _write_all(self._fd, self._pending.text.encode())
            self._pending.text = ""
        if not self.closed:
            os.close(self._fd)
        super().close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
    stopping: Any,
    figures: Any,
    ready: Any,
) -> None:
    """A worker's life: build the handler and the mapping, poll until told to stop or until
    its parent is gone (killed: nobody would stop it, and a restarted runner would start
    workers of its own); the batch in hand is finished and checkpointed first."""
    parent = os.getppid()
    # Ctrl-C reaches the whole process group: the runner stops the workers, each after its batch
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if plan.output is not None:
        output = os.open(plan.output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        sys.stdout = WholeLines(output)
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
        ready.send(str(error) or type(error).__name__)
        return
    ready.send(None)
    mapping.start()
    failed: list[str] = []
    while not stopping.value and os.getppid() == parent and not failed:
        _publish(mapping.stats(), figures, index)
        time.sleep(_PUBLISH_S)
        failed = mapping.failed()
    mapping.close()
    _publish(mapping.stats(), figures, index)
    if plan.finish is not None:
        plan.finish()
    if plan.output is not None:
        sys.stdout.close()  # what is left of a last line without its newline
    if failed:  # the runner starts this worker again (`ShardProcesses.revive`)
        sys.exit(_POLLER_FAILED)
