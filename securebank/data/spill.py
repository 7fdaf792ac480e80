"""Spilling record batches to disk by key, to group rows of a file larger than memory.

The importer uses it to gather each UTC day's rows, and each id-hash bucket's transaction ids, from
a file streamed in blocks: memory holds one block while writing and one key's rows while reading.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow as pa


class KeyedSpill:
    """Record batches appended per integer key to Arrow stream files; a bounded number kept open.

    Rows with the same key are read back together (`read`), in the order they were written.
    """

    def __init__(self, folder: Path, schema: pa.Schema, max_open: int = 64) -> None:
        self.folder = folder
        self.schema = schema
        self.max_open = max_open
        self.writers: OrderedDict[int, pa.ipc.RecordBatchStreamWriter] = OrderedDict()
        self.parts: dict[int, list[Path]] = {}
        folder.mkdir(parents=True, exist_ok=True)

    def write(self, batch: pa.RecordBatch, keys: np.ndarray) -> None:
        if batch.num_rows == 0:
            return
        order = np.argsort(keys, kind="stable")
        keys, batch = keys[order], batch.take(pa.array(order))
        starts = np.flatnonzero(np.diff(keys)) + 1
        for a, b in zip(np.r_[0, starts], np.r_[starts, len(keys)], strict=True):
            self._writer(int(keys[a])).write_batch(batch.slice(a, b - a))

    def _writer(self, key: int) -> pa.ipc.RecordBatchStreamWriter:
        writer = self.writers.get(key)
        if writer is not None:
            self.writers.move_to_end(key)
            return writer
        if len(self.writers) >= self.max_open:
            _, oldest = self.writers.popitem(last=False)
            oldest.close()
        parts = self.parts.setdefault(key, [])
        path = self.folder / f"{key}-{len(parts)}.arrow"
        parts.append(path)
        writer = pa.ipc.new_stream(pa.OSFile(str(path), "wb"), self.schema)
        self.writers[key] = writer
        return writer

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()

    def written_keys(self) -> list[int]:
        return sorted(self.parts)

    def read(self, key: int) -> pa.Table:
        tables = []
        for path in self.parts[key]:
            with pa.memory_map(str(path)) as source:
                tables.append(pa.ipc.open_stream(source).read_all())
        return pa.concat_tables(tables)
