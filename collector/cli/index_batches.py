"""Failed index batches: the record Lambda keeps when the index consumer gives up on a batch of the
audit table's stream (an on-failure destination record with `DDBStreamBatchInfo`, no payload).

Such a record lands in the collector's failure queue beside the events `replay` reads, but it is no
event: it names a stream shard, sequence numbers and arrival times, not the records. Those records
are in the table without their time-index entry; `table backfill-shards` over their arrival window,
widened by MARGIN each side, gives it to them (docs/deploy.md, index consumer failures)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collector.events.detect import parse
from collector.model import MailEvent

# A record's receivedAt is when the collector began its write, a little before the stream's
# arrival time, and arrival times are whole seconds: 5 minutes each side covers both.
MARGIN = timedelta(minutes=5)
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class IndexBatch:
    """One failed batch as its record describes it; any field Lambda did not write is None."""

    shard_id: object
    start_sequence: object
    end_sequence: object
    size: int | None  # batchSize: the batch's record count
    condition: str | None  # RetryAttemptsExhausted, RecordAgeExceeded, ...
    first_arrival: datetime | None
    last_arrival: datetime | None

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        """When its records arrived; None when either time is missing or unreadable."""
        if self.first_arrival is None or self.last_arrival is None:
            return None
        return min(self.first_arrival, self.last_arrival), max(self.first_arrival, self.last_arrival)


def index_batch(value: object) -> IndexBatch | None:
    """The failed batch `value` describes, or None when it is no such record. Told by shape: a dict
    `DDBStreamBatchInfo` and no `requestPayload` (a record that carries its payload is an event's:
    the collector's own failure records always do), in a record that is no WorkMail or SES event.
    No such event has a `DDBStreamBatchInfo` key; one given it by hand is still replayed. The
    `requestContext` Lambda writes beside it (the condition) may be missing: a hand-edited record."""
    if not isinstance(value, dict) or "requestPayload" in value:
        return None
    info = value.get("DDBStreamBatchInfo")
    if not isinstance(info, dict) or isinstance(parse(value), MailEvent):
        return None
    context = value.get("requestContext")
    size = info.get("batchSize")
    condition = context.get("condition") if isinstance(context, dict) else None
    return IndexBatch(
        shard_id=info.get("shardId"),
        start_sequence=info.get("startSequenceNumber"),
        end_sequence=info.get("endSequenceNumber"),
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        condition=condition if isinstance(condition, str) else None,
        first_arrival=_arrival(info.get("approximateArrivalOfFirstRecord")),
        last_arrival=_arrival(info.get("approximateArrivalOfLastRecord")),
    )


def _arrival(value: object) -> datetime | None:
    """An ISO 8601 arrival time in UTC (UTC when it names no offset); None when it is none."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a time, or one past the year 9999 in UTC
        return None


@dataclass
class FailedBatches:
    """The failed batches found in an input: how many, their records, and one repair window."""

    count: int = 0
    records: int = 0
    unsized: int = 0  # batches whose batchSize could not be read
    conditions: dict[str, int] = field(default_factory=dict)
    earliest: datetime | None = None  # the earliest first arrival of a readable window
    latest: datetime | None = None  # the latest last arrival
    unreadable: list[IndexBatch] = field(default_factory=list)  # batches without a readable window
    # (shard, first and last sequence number) of those counted: a message received twice (a
    # queue read again after its visibility timeout) describes the same batch, counted once.
    seen: set[tuple[str, str, str]] = field(default_factory=set)

    def add(self, batch: IndexBatch) -> None:
        identity = (batch.shard_id, batch.start_sequence, batch.end_sequence)
        if all(isinstance(part, str) for part in identity):
            if identity in self.seen:
                return
            self.seen.add((str(identity[0]), str(identity[1]), str(identity[2])))
        self.count += 1
        if batch.size is None:
            self.unsized += 1
        else:
            self.records += batch.size
        condition = batch.condition or "unknown condition"
        self.conditions[condition] = self.conditions.get(condition, 0) + 1
        window = batch.window
        if window is None:
            self.unreadable.append(batch)
            return
        self.earliest = window[0] if self.earliest is None else min(self.earliest, window[0])
        self.latest = window[1] if self.latest is None else max(self.latest, window[1])

    def window(self) -> tuple[datetime, datetime] | None:
        """One repair window for every readable batch: the earliest first arrival less MARGIN to
        the latest last arrival plus MARGIN, in whole seconds outward (the command's precision)."""
        if self.earliest is None or self.latest is None:
            return None
        since = self.earliest - MARGIN if self.earliest - EARLIEST >= MARGIN else EARLIEST
        until = self.latest + MARGIN if LATEST - self.latest >= MARGIN else LATEST
        since = since.replace(microsecond=0)
        if until.microsecond and until < LATEST.replace(microsecond=0):
            until = until.replace(microsecond=0) + timedelta(seconds=1)
        return since, until


def command_time(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, as `table backfill-shards` reads it (strftime pads no year < 1000)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )
