"""The core flows again, over Socket Mode (SPEC §15): the same tests, Slack's requests sent as envelopes
over the WebSocket the bot opened instead of signed HTTP. A chosen set, not every test twice: declare,
modal, buttons, stale click, the 20-click race, paging and notifications."""

from __future__ import annotations

import pytest

from tests.relay.test_relay_smoke import test_card_posted_and_updated
from tests.slack.test_actions import (
    test_click_moves_the_incident_and_replaces_the_card,
    test_stale_card_applies_nothing_and_shows_what_changed,
    test_twenty_concurrent_clicks_make_one_transition,
)
from tests.slack.test_commands import TestDeclareWithAnIncidentChannel, test_declare_with_and_without_severity
from tests.slack.test_cursor_paging import TestFilteredPaging
from tests.slack.test_views import test_new_without_title_opens_the_modal, test_submit_declares_the_incident


@pytest.fixture
def transport() -> str:
    return "socket"


__all__ = [
    "TestDeclareWithAnIncidentChannel",
    "TestFilteredPaging",
    "test_card_posted_and_updated",
    "test_click_moves_the_incident_and_replaces_the_card",
    "test_declare_with_and_without_severity",
    "test_new_without_title_opens_the_modal",
    "test_stale_card_applies_nothing_and_shows_what_changed",
    "test_submit_declares_the_incident",
    "test_twenty_concurrent_clicks_make_one_transition",
]
