"""Read `/metrics` as Prometheus would: parsed by prometheus_client's own text parser."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Scrape:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    families: frozenset[str]

    def value(self, name: str, **labels: str) -> float:
        """The sample's value (0 when absent: counters assert on deltas)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Sum over every series of `name` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and want <= ls)

    def series(self, name: str) -> list[dict[str, str]]:
        return [dict(ls) for (n, ls) in self.samples if n == name]


async def scrape(session: aiohttp.ClientSession, url: str) -> Scrape:
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    families = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(samples, frozenset(families))


async def wait_scrape(
    session: aiohttp.ClientSession,
    url: str,
    until: Callable[[Scrape], bool],
    timeout: float = 10.0,  # noqa: ASYNC109
) -> Scrape:
    """Scrape until `until` holds; the last scrape in the failure message."""
    last: Scrape | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                last = await scrape(session, url)
                if until(last):
                    return last
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"metrics never matched; last scrape: {last}") from None
