"""A fault-injecting proxy between the collector and DynamoDB Local, deterministic by seed.

Built on bench/proxy.py's counting proxy. Each request gets a fault or not from a RNG seeded with
(seed, request key, how many requests with that key came before), so the schedule is the same on
every run whatever the interleaving of concurrent tasks. The key of a PutItem is its item's
`invocationId` and `requestId`: each delivery of an event has its own schedule, and an SDK retry
or a Lambda retry of that delivery continues it.

Faults before forwarding (DynamoDB never sees the request): throttling (400 ThrottlingException),
a 500, a response slower than the client's 5 s read timeout, a connection closed without answer.
Faults after forwarding (DynamoDB applied the write, the client never learns it): the response
dropped, held past the read timeout, or replaced by a 500. Those are the ones where a retry finds
its own write.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from bench.proxy import CountingProxy, Intercept, Request, running_proxy

READ_TIMEOUT_SECONDS = 5.0  # collector.aws.client_config
SLOW_SECONDS = READ_TIMEOUT_SECONDS + 0.5  # just past it: each slow fault costs the client 5 s
DYNAMODB_ERROR = "com.amazonaws.dynamodb.v20120810#"


class Fault(StrEnum):
    THROTTLE = "throttle"
    SERVER_ERROR = "server-error"
    SLOW = "slow"
    DROP = "drop"
    DROP_AFTER_WRITE = "drop-after-write"
    SLOW_AFTER_WRITE = "slow-after-write"
    ERROR_AFTER_WRITE = "server-error-after-write"


AFTER_WRITE = frozenset({Fault.DROP_AFTER_WRITE, Fault.SLOW_AFTER_WRITE, Fault.ERROR_AFTER_WRITE})


def _error(status: int, kind: str, message: str) -> tuple[int, bytes]:
    return status, orjson.dumps({"__type": DYNAMODB_ERROR + kind, "message": message})


THROTTLED = _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
INTERNAL = _error(500, "InternalServerError", "Internal server error")

INTERCEPTS: Mapping[Fault, Intercept] = {
    Fault.THROTTLE: Intercept(Fault.THROTTLE, reply=THROTTLED),
    Fault.SERVER_ERROR: Intercept(Fault.SERVER_ERROR, reply=INTERNAL),
    Fault.SLOW: Intercept(Fault.SLOW, delay=SLOW_SECONDS, drop=True),
    Fault.DROP: Intercept(Fault.DROP, drop=True),
    Fault.DROP_AFTER_WRITE: Intercept(Fault.DROP_AFTER_WRITE, forward=True, drop=True),
    Fault.SLOW_AFTER_WRITE: Intercept(Fault.SLOW_AFTER_WRITE, forward=True, delay=SLOW_SECONDS, drop=True),
    Fault.ERROR_AFTER_WRITE: Intercept(Fault.ERROR_AFTER_WRITE, forward=True, reply=INTERNAL),
}

# Slow faults are rarer: each one holds a delivery for 5 s, and the test must stay short.
DEFAULT_WEIGHTS: Mapping[Fault, float] = {
    Fault.THROTTLE: 0.22,
    Fault.SERVER_ERROR: 0.14,
    Fault.SLOW: 0.06,
    Fault.DROP: 0.14,
    Fault.DROP_AFTER_WRITE: 0.22,
    Fault.SLOW_AFTER_WRITE: 0.06,
    Fault.ERROR_AFTER_WRITE: 0.16,
}


def request_key(request: Request) -> str:
    """`invocationId/requestId` of the item a PutItem writes (or the key a GetItem reads)."""
    try:
        body = orjson.loads(request.body)
        item = body.get("Item") or body.get("Key") or {}
        key = item["invocationId"]["S"]
        return f"{key}/{item['requestId']['S']}" if "requestId" in item else key
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return f"{request.target}:{hashlib.sha256(request.body).hexdigest()}"


@dataclass
class FaultPlan:
    """Which requests fail, and how: by a seeded share, or by a script per request key.

    `script[key]` lists the fate of the 1st, 2nd, ... request with that key (None: pass through);
    requests past the end of a script, and keys not in it, pass (scripted keys take no random faults).
    """

    share: float = 0.0
    seed: int = 0
    weights: Mapping[Fault, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    script: dict[str, list[Fault | None]] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)
    injected: Counter[Fault] = field(default_factory=Counter)
    log: defaultdict[str, list[Fault | None]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0

    def decide(self, key: str) -> Fault | None:
        n = self.seen[key]
        self.seen[key] += 1
        self.requests += 1
        fault: Fault | None = None
        if key in self.script:
            steps = self.script[key]
            fault = steps[n] if n < len(steps) else None
        else:
            rng = random.Random(f"{self.seed}:{key}:{n}")
            if rng.random() < self.share:
                faults = list(self.weights)
                fault = rng.choices(faults, weights=[self.weights[f] for f in faults])[0]
        self.log[key].append(fault)
        return fault

    def __call__(self, request: Request) -> Intercept | None:
        fault = self.decide(request_key(request))
        if fault is None:
            return None
        self.injected[fault] += 1
        return INTERCEPTS[fault]


@contextmanager
def fault_proxy(upstream: str, plan: FaultPlan) -> Iterator[CountingProxy]:
    """A proxy on 127.0.0.1 in front of `upstream` that applies `plan` to every request."""
    with running_proxy(upstream, plan) as proxy:
        yield proxy
