"""KeyedSpill: rows grouped by key on disk, whatever the number of open files."""

import numpy as np
import pyarrow as pa

from securebank.data.spill import KeyedSpill

SCHEMA = pa.schema([("value", pa.int64())])


def test_rows_come_back_grouped_by_key_in_write_order_past_the_open_file_limit(tmp_path):
    spill = KeyedSpill(tmp_path / "spill", SCHEMA, max_open=2)
    written: dict[int, list[int]] = {}
    for block in range(6):  # keys 0-4 interleaved: writers are closed and reopened as new parts
        values = np.arange(block * 10, block * 10 + 10)
        keys = (values * 7 + block) % 5
        spill.write(pa.RecordBatch.from_arrays([pa.array(values)], schema=SCHEMA), keys)
        for key, value in zip(keys.tolist(), values.tolist(), strict=True):
            written.setdefault(key, []).append(value)
    spill.close()
    assert spill.written_keys() == [0, 1, 2, 3, 4]
    assert max(len(parts) for parts in spill.parts.values()) > 1  # eviction happened
    for key, values in written.items():
        assert spill.read(key)["value"].to_pylist() == values
