"""The S3 sink of a trail export: each period's object under `trail/` in the deployment's bucket.

It implements collector.trail.export's Sink (put, delete, list, rows) over one bucket and prefix. A
part's object has one key (`trail/day=YYYY-MM-DD/audit-trail-YYYY-MM-DD-HHMM-HHMM.parquet`, its
first and last minute), so exporting it again replaces it and never adds rows. An object whose
bytes are unchanged (the writer is deterministic) is not written again: S3's ETag of a
single-part, SSE-S3 object is the MD5 of its bytes, and one HEAD is cheaper than a PUT, a new
object version and, with Object Lock, a new locked copy kept for years. A part's object is sent
from the file the writer made (one PUT takes up to 5 GB, far above a part: about 110 MB at most,
collector/trail/layout.py).

With Object Lock (`-c trailObjectLockDays=N`) every written object carries its own retention, so
the Athena results in the same bucket stay deletable. Content-MD5 goes with every PUT: S3 requires
an integrity header on writes that set a retention.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from collector.trail.footer import TAIL, footer_length, rows_in_footer

TRAIL_PREFIX = "trail/"
CONTENT_TYPE = "application/vnd.apache.parquet"
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(frozen=True)
class ObjectLock:
    mode: str  # GOVERNANCE or COMPLIANCE
    days: int

    def __post_init__(self) -> None:
        if self.mode not in LOCK_MODES or self.days < 1:
            raise ValueError(f"object lock needs GOVERNANCE or COMPLIANCE and days >= 1, got {self}")


@dataclass
class S3Sink:
    """The exporter's sink; counts what it wrote, found unchanged and deleted."""

    client: Any  # an aioboto3 S3 client
    bucket: str
    now: datetime
    prefix: str = TRAIL_PREFIX
    lock: ObjectLock | None = None
    written: int = 0
    unchanged: int = 0
    deleted: int = 0

    async def put(self, key: str, source: Path) -> None:
        """Write the file's bytes at the prefix + `key` unless the object there already holds them."""
        full = self.prefix + key
        with source.open("rb") as data:
            digest = hashlib.file_digest(data, lambda: hashlib.md5(usedforsecurity=False))
            if await self._etag(full) == digest.hexdigest():
                self.unchanged += 1
                return
            data.seek(0)
            request: dict[str, Any] = {
                "Bucket": self.bucket,
                "Key": full,
                "Body": data,
                "ContentLength": source.stat().st_size,
                "ContentType": CONTENT_TYPE,
                "ContentMD5": base64.b64encode(digest.digest()).decode(),
            }
            if self.lock is not None:
                request["ObjectLockMode"] = self.lock.mode
                request["ObjectLockRetainUntilDate"] = self.now + timedelta(days=self.lock.days)
            await self.client.put_object(**request)
        self.written += 1

    async def delete(self, key: str) -> None:
        """A delete marker over the object (versioning keeps it; a locked version stays locked)."""
        await self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        self.deleted += 1

    async def list(self, prefix: str) -> list[str]:
        """Keys (without the trail prefix) that start with `prefix`, sorted."""
        return sorted(await self.written_at(prefix))

    async def written_at(self, prefix: str) -> dict[str, datetime]:
        """When each object (key without the trail prefix) that starts with `prefix` was written:
        one LIST (a page per 1,000 keys) for a day's folder."""
        found: dict[str, datetime] = {}
        token: str | None = None
        while True:
            request: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
            if token:
                request["ContinuationToken"] = token
            page = await self.client.list_objects_v2(**request)
            for item in page.get("Contents", []):
                found[str(item["Key"])[len(self.prefix) :]] = item["LastModified"]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return found

    async def rows(self, key: str) -> int | None:
        """The rows the object's Parquet footer records (collector.trail.footer): two ranged GETs,
        the last TAIL bytes, then the footer with them; None: not a Parquet object."""
        full = self.prefix + key
        tail = await self._range(full, TAIL)
        length = None if tail is None else footer_length(tail)
        if tail is None or length is None:
            return None
        end = await self._range(full, length + TAIL)
        if end is None or len(end) != length + TAIL:
            return None
        return rows_in_footer(end[:length], tail)

    async def _range(self, key: str, last: int) -> bytes | None:
        """The object's last `last` bytes (all of it when shorter); None: an empty object."""
        try:
            response = await self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=-{last}")
        except Exception as error:  # botocore's ClientError, without importing botocore here
            status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 416:  # no byte to give: an empty object
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def _etag(self, key: str) -> str | None:
        head = await self._head(key)
        return None if head is None else str(head.get("ETag", "")).strip('"') or None

    async def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = await self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as error:  # botocore's ClientError, without importing botocore here
            status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return None
            raise
        return head
