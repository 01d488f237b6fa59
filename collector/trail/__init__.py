"""The audit trail at any scale: a store's records of each UTC day as Parquet in the day's
folder, `day=YYYY-MM-DD/` (one object, or a few parts of whole minutes for a big day), and named
SQL queries that run unchanged on Athena and on DuckDB offline.

The face of this room: `schema` (the table), `queries` (the named queries), `layout` (which parts
a day is and their names), `export` (store to files), `duck` (SQL over the files). Needs the
`trail` extra (pyarrow, duckdb) except `schema`, `queries` and `layout`, which the stack and the
benchmarks read too. Nothing below this package imports it.
"""
