"""Opt-in enrichment: read the raw message through the message-flow API and summarise its shape.

`mime` is pure (bytes in, `MessageSummary` out); `messageflow` owns the network and never raises
for a missing, forbidden or slow message, so the caller can always write its audit record.
"""

from collector.enrichment.messageflow import (
    EnrichmentResult,
    EnrichmentStatus,
    MessageFlowReader,
    RetryPolicy,
)
from collector.enrichment.mime import MessageSummary, MimeSummarizer, summarize_bytes, summarize_stream

__all__ = [
    "EnrichmentResult",
    "EnrichmentStatus",
    "MessageFlowReader",
    "MessageSummary",
    "MimeSummarizer",
    "RetryPolicy",
    "summarize_bytes",
    "summarize_stream",
]
