"""Writes the Parquet fixtures of parquet.test.ts with pyarrow, the writer most data platforms
use (pandas' to_parquet, Spark's and DuckDB's files read the same way):

    $(bash bench/pandas-venv.sh) runtime-images/ingest/testdata/parquet/make_fixtures.py

- types.parquet: one column per Parquet type the reader maps (parquet-cells.ts), with nulls,
  dictionary-encoded strings, an int64 beyond 2^53, decimals, timestamps of each unit;
- codec-<codec>.parquet: the same small table compressed with each codec;
- nested.parquet: a list column and a struct column beside a flat one.

The files are checked in (a few KB) so the unit tests need no Python; rerunning the script
writes the same tables (pyarrow's version is in each file's footer).
"""

import datetime
import decimal
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

here = pathlib.Path(__file__).parent

utc = datetime.timezone.utc
types = pa.table(
    {
        "flag": pa.array([True, False, None], pa.bool_()),
        "i32": pa.array([1, -2, None], pa.int32()),
        "i64": pa.array([9007199254740993, -5, None], pa.int64()),
        "u64": pa.array([18446744073709551615, 7, None], pa.uint64()),
        "f32": pa.array([0.1, 2.5, float("nan")], pa.float32()),
        "f64": pa.array([0.1, -1e-7, None], pa.float64()),
        "dec": pa.array(
            [decimal.Decimal("12.30"), decimal.Decimal("-0.05"), None], pa.decimal128(9, 2)
        ),
        "name": pa.array(["setosa", "versicolor", "setosa"], pa.string()).dictionary_encode(),
        "text": pa.array(["a, \"quoted\"\nline", "", None], pa.string()),
        "day": pa.array([datetime.date(2024, 2, 29), datetime.date(1969, 12, 31), None]),
        "ts_ms": pa.array(
            [datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=utc), None, None],
            pa.timestamp("ms", tz="UTC"),
        ),
        "ts_us": pa.array(
            [datetime.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=utc), None, None],
            pa.timestamp("us", tz="UTC"),
        ),
        "ts_ns_local": pa.array([1_700_000_000_123_456_789, None, None], pa.timestamp("ns")),
        "clock": pa.array([datetime.time(13, 14, 15, 16000), None, None], pa.time64("us")),
        "blob": pa.array([b"\x00\x01\xff", None, None], pa.binary(3)),
    }
)
pq.write_table(types, here / "types.parquet", compression="snappy")

small = pa.table(
    {
        "x": pa.array([float(i) / 4 for i in range(200)], pa.float64()),
        "k": pa.array([["red", "green", "blue"][i % 3] for i in range(200)], pa.string()),
        "y": pa.array([i % 2 for i in range(200)], pa.int64()),
    }
)
for codec in ["none", "snappy", "gzip", "zstd", "brotli", "lz4"]:
    pq.write_table(small, here / f"codec-{codec}.parquet", compression=codec)

nested = pa.table(
    {
        "x": pa.array([1.0, 2.0], pa.float64()),
        "tags": pa.array([["a", "b"], []], pa.list_(pa.string())),
        "point": pa.array([{"lat": 1.0, "lon": 2.0}, None]),
        "y": pa.array(["no", "yes"], pa.string()),
    }
)
pq.write_table(nested, here / "nested.parquet")
