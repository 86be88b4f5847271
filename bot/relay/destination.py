"""Where an incident's change messages go (SPEC §7, §12): the one place that decides it, for the relay and
for anything else that posts about an incident (update reminders, SPEC §13)."""

from __future__ import annotations

from dataclasses import dataclass

from domain import Incident
from storage.incident_channels import ChannelState, IncidentChannel


@dataclass(frozen=True, slots=True)
class Destination:
    channel: str
    thread_ts: str | None  # None: at the top level of the incident's own channel


def change_destination(incident: Incident, room: IncidentChannel | None) -> Destination | None:
    """Its own channel while open (top level); once archived, the announcement's thread if there is one;
    otherwise (shared mode, or Slack refused the channel) the card's thread. None when there is nowhere
    (yet) to post: before the card exists, or archived with no announcement."""
    if room is not None and room.state is ChannelState.OPEN and room.channel_id is not None:
        return Destination(room.channel_id, None)
    if room is not None and room.state is ChannelState.ARCHIVED:
        if room.announce_channel_id and room.announce_ts:
            return Destination(room.announce_channel_id, room.announce_ts)
        return None  # nowhere left to post: the channel is archived and there is no announcement
    if incident.card_channel_id and incident.card_ts:
        return Destination(incident.card_channel_id, incident.card_ts)
    return None
