"""The traffic the bill assumes: organization sizes, the mix of deliveries, and when in the week mail flows.

These are assumptions, stated here once and printed with every bill. The measured side (what
one delivery of each kind emits and stores) comes from bench/emitted.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOURS_PER_MONTH = 730  # AWS's billing month
DAYS_PER_MONTH = HOURS_PER_MONTH / 24
HOURS_PER_WEEK = 168


@dataclass(frozen=True)
class Organization:
    name: str
    messages_per_day: int  # new messages (events), averaged over the week


ORGANIZATIONS = (
    Organization("1,000/day", 1_000),
    Organization("100,000/day", 100_000),
    Organization("10 million/day", 10_000_000),
)


@dataclass(frozen=True)
class Mix:
    """Deliveries per new message, by kind (bench/emitted.py's kinds). Assumed, not measured."""

    inbound_share: float = 0.55  # of new messages; the rest outbound
    redeliveries: float = 0.02  # byte-identical redeliveries per message (WorkMail's and Lambda's retries)
    conflicts: float = 0.00001  # redeliveries whose content differs
    invalid: float = 0.00001  # payloads that fail validation
    unknown: float = 0.00001  # new messages with an unexpected flowDirection
    truncated: float = 0.001  # new messages whose summary passed 128 KB
    attachments: float = 0.30  # with enrichment: messages with attachments
    auth_failures: float = 0.02  # with enrichment: inbound messages failing SPF, DKIM and DMARC
    not_found: float = 0.005  # with enrichment: messages the message-flow API cannot return

    def per_message(self, enrich: bool) -> dict[str, float]:
        """Deliveries of each kind per new message (new kinds sum to 1)."""
        special = {"unknown": self.unknown, "truncated": self.truncated}
        if enrich:
            special |= {"attachments": self.attachments, "auth_failure": self.auth_failures}
            special["not_found"] = self.not_found
        plain = 1 - sum(special.values())
        return {
            "inbound": plain * self.inbound_share,
            "outbound": plain * (1 - self.inbound_share),
            **special,
            "duplicate": self.redeliveries,
            "conflict": self.conflicts,
            "invalid": self.invalid,
        }

    def deliveries_per_message(self) -> float:
        return 1 + self.redeliveries + self.conflicts + self.invalid


def week_profile() -> tuple[float, ...]:
    """Share of a week's mail in each hour (Monday 00:00 first), summing to 1.

    Office mail: weekdays 08-18 carry the load, evenings and early mornings a little, nights and
    weekends a trickle (automated mail, other time zones). The shape decides how many hours a rare
    metric receives data, hence what hourly proration saves.
    """
    weights = []
    for hour in range(HOURS_PER_WEEK):
        day, clock = divmod(hour, 24)
        if day < 5:
            weight = 10.0 if 8 <= clock < 18 else 3.0 if 6 <= clock < 8 or 18 <= clock < 22 else 0.5
        else:
            weight = 1.5 if 8 <= clock < 20 else 0.3
        weights.append(weight)
    total = sum(weights)
    return tuple(w / total for w in weights)


PROFILE = week_profile()


def hours_with_data(per_week: float, profile: tuple[float, ...] = PROFILE) -> float:
    """Expected hours of a billing month in which a series gets at least one data point, when it
    gets `per_week` data points a week spread like the mail (Poisson within each hour)."""
    if per_week <= 0:
        return 0.0
    week = sum(1 - math.exp(-per_week * share) for share in profile)
    return week * HOURS_PER_MONTH / HOURS_PER_WEEK


def peak_hour_share(profile: tuple[float, ...] = PROFILE) -> float:
    """The share of a week's mail that arrives in its busiest hour."""
    return max(profile)


def busiest_day_share(profile: tuple[float, ...] = PROFILE) -> float:
    """The share of a week's mail that arrives on its busiest UTC day."""
    return max(sum(profile[day * 24 : day * 24 + 24]) for day in range(len(profile) // 24))
