"""How many rows a Parquet object holds, read from its footer alone (collector.trail.export's
guard, before a day is replaced): a Parquet file ends with its footer, the footer's length (4
bytes, little-endian) and `PAR1`, so the last TAIL bytes say how much more to read, and S3 needs
two ranged GETs, never the object. pyarrow parses the footer (imported only then): it reads a
buffer of `PAR1`, the footer, its length and `PAR1` as a file with no row groups' bytes."""

from __future__ import annotations

from pathlib import Path

MAGIC = b"PAR1"
TAIL = 8  # the footer's length and the closing magic


def footer_length(tail: bytes) -> int | None:
    """The footer's length from a file's last TAIL bytes; None: not the end of a Parquet file."""
    if len(tail) != TAIL or tail[4:] != MAGIC:
        return None
    return int.from_bytes(tail[:4], "little")


def rows_in_footer(footer: bytes, tail: bytes) -> int | None:
    """The rows a footer records; None: it does not parse (not a Parquet file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(pa.BufferReader(MAGIC + footer + tail)).num_rows)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError, its IO errors OSErrors
        return None


def rows_in_file(path: Path) -> int | None:
    """The rows a local Parquet file's metadata records; None: not a Parquet file."""
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, ValueError):
        return None
