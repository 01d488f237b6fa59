"""The audit trail at any scale: each UTC day of a store's records as one Parquet object under
`day=YYYY-MM-DD/`, and named SQL queries that run unchanged on Athena and on DuckDB offline.

The face of this room: `schema` (the table), `queries` (the named queries), `export` (store to
files), `duck` (SQL over the files). Needs the `trail` extra (pyarrow, duckdb) except `schema`
and `queries`, which the stack reads too. Nothing below this package imports it.
"""
