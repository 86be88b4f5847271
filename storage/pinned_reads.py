"""One read connection per request: inside `pinned_reads(engine)`, every `read_connection(engine)` of the
same task shares one pooled connection, checked out (and pre-pinged) when first needed.

An API read checks its token's record and then reads the incidents: two statements, and without a pin
two pool checkouts, each with its pre-ping round trip. Pinned, that is one checkout and one ping, as a
Slack read pays. The pin is lazy (a request refused before any read checks nothing out), per task
(contextvars: concurrent requests never share it), and never shared at once: a `read_connection` asked
for while the pinned one is in use gets a connection of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


@dataclass
class _Pin:
    engine: AsyncEngine
    exits: AsyncExitStack = field(default_factory=AsyncExitStack)
    connection: AsyncConnection | None = None
    busy: bool = False


_pin: ContextVar[_Pin | None] = ContextVar("pinned_read_connection", default=None)


@asynccontextmanager
async def pinned_reads(engine: AsyncEngine) -> AsyncIterator[None]:
    """Share one connection of `engine` among the reads of this block; it goes back to the pool at exit."""
    pin = _Pin(engine)
    token = _pin.set(pin)
    try:
        async with pin.exits:
            yield
    finally:
        _pin.reset(token)


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection of `engine`: the pinned one if this task pinned `engine` and it is free, else its own."""
    pin = _pin.get()
    if pin is None or pin.engine is not engine or pin.busy:
        async with engine.connect() as connection:
            yield connection
        return
    if pin.connection is None:
        pin.connection = await pin.exits.enter_async_context(engine.connect())
    pin.busy = True
    try:
        yield pin.connection
    finally:
        pin.busy = False
