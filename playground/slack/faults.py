"""Scripted misbehaviour for the stand-in: queued one-off faults, latency, and a persistent outage.

Method names are matched as globs (`chat.*`, `*`); the response_url receiver answers to `response_url`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

_ERRORS_BY_STATUS = {
    429: "ratelimited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@dataclass(frozen=True)
class FaultAnswer:
    """How a faulted call is answered instead of being carried out."""

    status: int
    error: str
    retry_after: int | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class Decision:
    """What to do with one call: wait `delay` seconds, then answer `answer` or (if None) serve it."""

    delay: float = 0.0
    answer: FaultAnswer | None = None


@dataclass
class _Queued:
    pattern: str
    answer: FaultAnswer | None
    delay: float
    remaining: int


@dataclass(frozen=True)
class _Outage:
    patterns: tuple[str, ...]
    answer: FaultAnswer


class FaultPlan:
    def __init__(self) -> None:
        self._queue: list[_Queued] = []
        self._latency: dict[str, float] = {}
        self._outage: _Outage | None = None

    def fail_next(
        self,
        method: str = "*",
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """Queue a fault for the next `times` calls matching `method`, after any faults already queued.

        `status` alone answers that HTTP status (429 carries `Retry-After`, default 1 s); `error` alone
        answers HTTP 200 `ok: false`; `delay` alone slows the calls down and then serves them normally.
        """
        if times < 1 or delay < 0 or (retry_after is not None and retry_after < 0):
            raise ValueError("times must be >= 1; delay and retry_after must not be negative")
        if status is None and error is None and not delay:
            raise ValueError("give a status, an error or a delay")
        answer = None
        if status is not None or error is not None:
            answer = _answer(status or 200, error)
            if answer.status == 429 and retry_after is None:
                retry_after = 1
            answer = FaultAnswer(answer.status, answer.error, retry_after)
        self._queue.append(_Queued(method, answer, delay, times))

    def set_latency(self, seconds: float, method: str = "*") -> None:
        """Delay every call matching `method` by `seconds` (0 removes the delay); exact names beat globs."""
        if seconds < 0:
            raise ValueError("latency must not be negative")
        if seconds:
            self._latency[method] = seconds
        else:
            self._latency.pop(method, None)

    def set_down(self, down: bool, methods: tuple[str, ...] = ("*",), status: int = 503) -> None:
        """Answer every call matching `methods` with `status` until switched off; queued faults wait."""
        self._outage = _Outage(methods, _answer(status, None)) if down else None

    def reset(self) -> None:
        self._queue.clear()
        self._latency.clear()
        self._outage = None

    def pending(self) -> int:
        """How many queued faulted calls are still to come."""
        return sum(q.remaining for q in self._queue)

    def decide(self, method: str) -> Decision:
        delay = self._latency_for(method)
        if self._outage is not None and _matches(method, self._outage.patterns):
            return Decision(delay, self._outage.answer)
        for queued in self._queue:
            if fnmatch.fnmatchcase(method, queued.pattern):
                queued.remaining -= 1
                if queued.remaining == 0:
                    self._queue.remove(queued)
                return Decision(delay + queued.delay, queued.answer)
        return Decision(delay)

    def _latency_for(self, method: str) -> float:
        if method in self._latency:
            return self._latency[method]
        globs = [s for p, s in self._latency.items() if p != "*" and fnmatch.fnmatchcase(method, p)]
        return globs[0] if globs else self._latency.get("*", 0.0)


def _matches(method: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(method, p) for p in patterns)


def _answer(status: int, error: str | None) -> FaultAnswer:
    if not 200 <= status <= 599:
        raise ValueError(f"not an HTTP status Slack would answer: {status}")
    return FaultAnswer(status, error or _ERRORS_BY_STATUS.get(status, f"http_{status}"))
