"""The one place that shapes SDK clients: short timeouts, so no request can eat the invocation."""

from __future__ import annotations

import contextlib
from typing import Any


def client_config(
    total_attempts: int = 3, pool: int = 64, connect_timeout: float = 2, read_timeout: float = 5
) -> Any:
    """Standard-mode retries over `total_attempts` tries, 2 s to connect and 5 s to read by default."""
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": total_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=pool,
    )


async def open_client(
    service: str, stack: contextlib.AsyncExitStack, session: Any = None, config: Any = None, **kwargs: Any
) -> Any:
    """Enter an aioboto3 client on `stack`, to be reused until the stack closes (once per container)."""
    import aioboto3  # deferred: the heaviest import of the package, paid only by paths that need it

    session = session or aioboto3.Session()
    return await stack.enter_async_context(
        session.client(service, config=config or client_config(), **kwargs)
    )
