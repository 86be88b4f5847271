"""The stand-in's channel methods (SPEC §12) through slack_sdk's real AsyncWebClient: what they change, and
Slack's error codes for what they refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from playground.slack.web_api import SlackStandIn

TOKEN = "xoxb-test-token"
ALICE, BOB = "U0ALICE", "U0BOB"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


async def test_create_makes_a_channel_the_bot_is_in_and_a_taken_name_is_refused(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    created = (await client.conversations_create(name="inc-1-db-down"))["channel"]
    assert created["name"] == "inc-1-db-down"
    assert created["creator"] == slack.state.bot_user_id
    assert slack.state.channel(created["id"]).members == [slack.state.bot_user_id]
    assert await error_of(client.conversations_create(name="inc-1-db-down")) == "name_taken"
    info = (await client.conversations_info(channel=created["id"]))["channel"]
    assert info["name"] == "inc-1-db-down"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("x" * 81, "invalid_name_maxlength"),
        ("Inc-1", "invalid_name"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
    ],
)
async def test_create_refuses_names_slack_refuses(client: AsyncWebClient, name: str, error: str) -> None:
    assert await error_of(client.conversations_create(name=name)) == error


async def test_invite_topic_purpose_pin_and_archive(slack: SlackStandIn, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-2"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users=ALICE)
    again = await error_of(client.conversations_invite(channel=channel_id, users=ALICE))
    assert again == "already_in_channel"
    assert await error_of(client.conversations_invite(channel=channel_id, users="nobody")) == "user_not_found"
    assert (
        await error_of(client.conversations_invite(channel=channel_id, users=slack.state.bot_user_id))
        == "cant_invite_self"
    )
    await client.conversations_invite(channel=channel_id, users=f"{ALICE},{BOB}")
    assert slack.state.channel(channel_id).members[1:] == [ALICE, BOB]

    await client.conversations_setTopic(channel=channel_id, topic="SEV1 · open")
    assert await error_of(client.conversations_setTopic(channel=channel_id, topic="x" * 251)) == "too_long"
    await client.conversations_setPurpose(channel=channel_id, purpose="marker")
    info = (await client.conversations_info(channel=channel_id))["channel"]
    assert (info["topic"]["value"], info["purpose"]["value"]) == ("SEV1 · open", "marker")

    ts = (await client.chat_postMessage(channel=channel_id, text="card"))["ts"]
    await client.pins_add(channel=channel_id, timestamp=ts)
    assert await error_of(client.pins_add(channel=channel_id, timestamp=ts)) == "already_pinned"
    assert await error_of(client.pins_add(channel=channel_id, timestamp="1.000001")) == "message_not_found"
    assert slack.state.channel(channel_id).pins == [ts]

    await client.conversations_archive(channel=channel_id)
    assert await error_of(client.conversations_archive(channel=channel_id)) == "already_archived"
    assert await error_of(client.conversations_setTopic(channel=channel_id, topic="late")) == "is_archived"
    # archived names stay taken
    assert await error_of(client.conversations_create(name="inc-2")) == "name_taken"
    assert await error_of(client.conversations_archive(channel="C0GENERAL")) == "cant_archive_general"


async def test_list_pages_through_every_channel(client: AsyncWebClient) -> None:
    for k in range(3):
        await client.conversations_create(name=f"inc-{k}")
    names: list[str] = []
    cursor = ""
    while True:
        page = await client.conversations_list(limit=2, cursor=cursor or None)
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == ["general", "incidents", "inc-0", "inc-1", "inc-2"]


async def test_policy_refusals_and_rate_limits_are_injected_like_any_fault(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.fail_next("conversations.create", error="restricted_action")
    slack.fail_next("conversations.create", status=429, retry_after=7)
    assert await error_of(client.conversations_create(name="inc-3")) == "restricted_action"
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_create(name="inc-3")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "7"
    assert [c.name for c in slack.state.channels()] == ["general", "incidents"]
    await client.conversations_create(name="inc-3")
