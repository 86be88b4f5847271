"""What one delivery carries: a posted card alone, or a run of one incident's card changes (SPEC §7).

Card changes waiting together for one incident go out as one card update with the incident's latest
state and one thread message listing every change's line in commit order. A batch is capped so the
thread message stays far inside Slack's 40,000-character limit (one line can reach ~12,000 characters:
a 3,000-character note, escaped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.render.thread import thread_text
from domain import Incident
from storage.outbox import Notification, NotificationKind
from storage.outbox_store import ClaimedNotification

MAX_CHANGES = 20
MAX_THREAD_CHARS = 20_000


@dataclass(frozen=True, slots=True)
class Batch:
    """Outbox rows delivered (and settled: sent, retried, failed, handed back) together, in commit order.

    `incident` is as read with the last of them, or later: what the card shows."""

    rows: tuple[ClaimedNotification, ...]
    incident: Incident

    @classmethod
    def of(cls, claimed: ClaimedNotification) -> Batch:
        return cls((claimed,), claimed.incident)

    @property
    def head(self) -> ClaimedNotification:
        return self.rows[0]

    @property
    def kind(self) -> NotificationKind:
        return self.head.notification.kind

    @property
    def ids(self) -> list[int]:
        return [c.notification.id for c in self.rows]

    @property
    def attempts(self) -> int:
        """Attempts so far, for backoff and the give-up limit: the most any row of the batch has had."""
        return max(c.notification.attempts for c in self.rows)

    def lines(self) -> list[str]:
        return [thread_text(c.notification.change, self.incident) for c in self.rows]

    def thread_text(self) -> str:
        """One line per change, in commit order."""
        return "\n".join(self.lines())

    def joined(self, more: Sequence[Notification], incident: Incident) -> Batch:
        """This batch plus the changes committed behind it, rendered with `incident` (newer)."""
        rows = tuple(ClaimedNotification(c.notification, incident) for c in self.rows)
        return Batch(rows + tuple(ClaimedNotification(n, incident) for n in more), incident)

    def room(self) -> int:
        return max(0, MAX_CHANGES - len(self.rows))

    def budget(self) -> Callable[[Notification], bool]:
        """Says yes to each following change, in order, while the batch stays inside its caps."""
        count, chars = len(self.rows), len(self.thread_text())

        def accept(notification: Notification) -> bool:
            nonlocal count, chars
            # the display id is the incident's own, so the line's length does not depend on its state
            line = len(thread_text(notification.change, self.incident)) + 1
            if count >= MAX_CHANGES or chars + line > MAX_THREAD_CHARS:
                return False
            count, chars = count + 1, chars + line
            return True

        return accept
