"""The connection layer: uvicorn's h11 protocol with the two guards uvicorn's settings do not offer.

uvicorn (0.54) starts its keep-alive timer only after a response, so a socket that connects and never
sends a request is kept forever, and it has no connection cap short of the open-file limit: 1,100 idle
sockets at ``nofile=1024`` leave no descriptor to accept ``/health`` with. This subclass adds, with
uvicorn's own timer and connection set:

* a deadline for a request head (``idle_timeout``): from the connection's start, and again after each
  response, a connection that has not completed a request head in time is closed (idle and slow-header
  sockets alike);
* a connection cap (``max_connections``, below the open-file limit): past it, the oldest idle connection is
  closed to make room, as nginx reuses keep-alive connections; if none is idle the newcomer is closed.

The body is bounded separately (size and deadline) by :class:`sortai.api.middleware.BodyLimit`.
"""

from __future__ import annotations

import asyncio
import resource
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

FD_RESERVE = 128  # descriptors kept free for the store, worker pipes, snapshots and logs
# asyncio accepts up to `backlog` sockets per loop iteration before any of them reaches connection_made (where
# the cap acts), and the sockets the cap closes are released a loop iteration or two later, so the cap leaves
# room for three such bursts (with two, 1,100 idle sockets at nofile=1024 still hit EMFILE now and then).
BACKLOG = 128


def default_max_connections() -> int:
    """Raise the soft open-file limit to the hard one (as Go and nginx do), and stay below it with a margin for
    the store's files and three accept bursts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return max(16, min(10_000, soft - FD_RESERVE - 3 * BACKLOG))


class GuardedH11Protocol(H11Protocol):
    idle_timeout: float = 5.0
    max_connections: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.opened_at = time.monotonic()
        self._head_deadline: asyncio.TimerHandle | None = None
        self._arm_head_deadline()
        if len(self.connections) <= self.max_connections:
            return
        open_ = [c for c in self.connections if isinstance(c, GuardedH11Protocol) and not c.transport.is_closing()]
        if len(open_) > self.max_connections:  # closed ones stay in the set until their connection_lost
            idle = [c for c in open_ if c is not self and c._idle()]
            min(idle, key=lambda c: c.opened_at, default=self)._close()

    def _idle(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
        cycle = self.cycle
        self._head_deadline = self.loop.call_later(self.idle_timeout, self._head_deadline_passed, cycle)

    def _head_deadline_passed(self, cycle_at_arming) -> None:
        self._head_deadline = None
        if self.cycle is cycle_at_arming and self._idle():  # no new request head arrived in time
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_deadline", None) is not None:
            self._head_deadline.cancel()
        super().connection_lost(exc)


def protocol(idle_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class for uvicorn's ``http=`` setting, with these limits."""
    return type("SortaiH11Protocol", (GuardedH11Protocol,),
                {"idle_timeout": idle_timeout, "max_connections": max_connections})
