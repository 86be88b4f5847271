"""The Slack stand-in, driven by slack_sdk's real AsyncWebClient and AsyncWebhookClient over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from playground.slack.model import Change
from playground.slack.web_api import STAND_IN_KEY, SlackStandIn

TOKEN = "xoxb-test-token"
GENERAL = "C0GENERAL"
INCIDENTS = "C0INCIDENTS"
ALICE = "U0ALICE"
OK = (200, "ok")
SECTION = [{"type": "section", "text": {"type": "mrkdwn", "text": "*INC-1* open"}}]
MODAL = {
    "type": "modal",
    "callback_id": "incident.new",
    "title": {"type": "plain_text", "text": "New incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=TOKEN, base_url=slack.api_url)


async def slack_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        await call
    return caught.value


async def respond(url: str, **body: Any) -> tuple[int, str]:
    response = await AsyncWebhookClient(url).send_dict(body)
    return response.status_code, response.body


# -- lifecycle and identity ---------------------------------------------------------------------


async def test_api_url_is_a_loopback_base_url_and_the_app_finds_the_stand_in(slack: SlackStandIn) -> None:
    assert slack.api_url.startswith("http://127.0.0.1:")
    assert slack.api_url.endswith("/api/")
    assert slack.app[STAND_IN_KEY] is slack


async def test_auth_test_names_the_bot(slack: SlackStandIn, client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["ok"] is True
    identity = (response["team_id"], response["user_id"], response["bot_id"])
    assert identity == ("T0PLAYGRND", "U0INCBOT", "B0INCBOT")
    assert slack.calls("auth.test")[0].ok


async def test_missing_token_is_not_authed_and_a_wrong_one_is_invalid_auth(slack: SlackStandIn) -> None:
    error = await slack_error(AsyncWebClient(base_url=slack.api_url).auth_test())
    assert error.response.status_code == 200
    assert error.response["error"] == "not_authed"
    error = await slack_error(AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test())
    assert error.response["error"] == "invalid_auth"
    assert [c.error for c in slack.calls("auth.test")] == ["not_authed", "invalid_auth"]


async def test_unknown_method_is_refused_with_http_200(client: AsyncWebClient) -> None:
    error = await slack_error(client.api_call("incidents.explode"))
    assert (error.response.status_code, error.response["error"]) == (200, "unknown_method")


async def test_stop_answers_a_call_held_by_latency_without_waiting_it_out() -> None:
    slack = SlackStandIn()
    await slack.start()
    slack.set_latency(30)
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    call = asyncio.create_task(client.auth_test())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await slack.stop()
    await asyncio.gather(call, return_exceptions=True)
    assert time.monotonic() - started < 5


# -- messages -----------------------------------------------------------------------------------


async def test_post_message_and_thread_reply_are_kept_in_order(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    card = await client.chat_postMessage(channel=INCIDENTS, text="INC-1 open", blocks=SECTION)
    assert card["channel"] == INCIDENTS
    assert card["message"]["blocks"] == SECTION
    reply = await client.chat_postMessage(channel=INCIDENTS, text="<@U0ALICE> acked", thread_ts=card["ts"])
    assert float(reply["ts"]) > float(card["ts"])
    assert [m.ts for m in slack.messages(INCIDENTS)] == [card["ts"]]
    parent, child = slack.thread(INCIDENTS, card["ts"])
    assert (parent.user, parent.bot_id, parent.blocks) == ("U0INCBOT", "B0INCBOT", SECTION)
    assert (child.text, child.thread_ts) == ("<@U0ALICE> acked", card["ts"])
    history = await client.conversations_replies(channel=INCIDENTS, ts=card["ts"])
    assert [m["ts"] for m in history["messages"]] == [card["ts"], reply["ts"]]


async def test_form_encoded_blocks_arrive_as_a_list(slack: SlackStandIn, client: AsyncWebClient) -> None:
    data = {"channel": GENERAL, "text": "hello", "blocks": json.dumps(SECTION)}
    posted = await client.api_call("chat.postMessage", data=data)
    assert slack.calls("chat.postMessage")[0].args["blocks"] == SECTION
    message = slack.message(GENERAL, posted["ts"])
    assert message is not None
    assert message.blocks == SECTION


async def test_channel_may_be_named_and_unknown_channels_are_not_found(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="#incidents", text="by name")
    assert posted["channel"] == INCIDENTS
    error = await slack_error(client.chat_postMessage(channel="C0NOWHERE", text="lost"))
    assert error.response["error"] == "channel_not_found"
    slack.add_channel("C0NOWHERE", "somewhere")
    assert (await client.chat_postMessage(channel="C0NOWHERE", text="found"))["ok"]


async def test_invalid_blocks_are_refused(slack: SlackStandIn, client: AsyncWebClient) -> None:
    too_long = [{"type": "section", "text": {"type": "plain_text", "text": "x" * 3001}}]
    error = await slack_error(client.chat_postMessage(channel=GENERAL, text="t", blocks=too_long))
    assert error.response["error"] == "invalid_blocks"
    error = await slack_error(client.chat_postMessage(channel=GENERAL, text="t", blocks=SECTION * 51))
    assert error.response["error"] == "invalid_blocks"
    assert slack.messages(GENERAL) == []


async def test_update_replaces_content_and_marks_it_edited(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    card = await client.chat_postMessage(channel=INCIDENTS, text="INC-1 open", blocks=SECTION)
    new_blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*INC-1* resolved"}}]
    updated = await client.chat_update(
        channel=INCIDENTS, ts=card["ts"], text="INC-1 resolved", blocks=new_blocks
    )
    assert updated["ts"] == card["ts"]
    message = slack.message(INCIDENTS, card["ts"])
    assert message is not None
    assert (message.text, message.blocks, message.edited) == ("INC-1 resolved", new_blocks, True)
    error = await slack_error(client.chat_update(channel=INCIDENTS, ts="1.000001", text="gone"))
    assert error.response["error"] == "message_not_found"


async def test_ephemeral_is_seen_only_by_its_user(slack: SlackStandIn, client: AsyncWebClient) -> None:
    posted = await client.chat_postEphemeral(channel=GENERAL, user=ALICE, text="only you")
    assert posted["message_ts"]
    assert [e.text for e in slack.ephemerals(GENERAL, ALICE)] == ["only you"]
    assert slack.ephemerals(GENERAL, "U0BOB") == []
    assert slack.messages(GENERAL) == []


async def test_conversations_and_users_info(client: AsyncWebClient) -> None:
    channel = await client.conversations_info(channel=INCIDENTS)
    assert channel["channel"]["name"] == "incidents"
    user = await client.users_info(user=ALICE)
    assert user["user"]["id"] == ALICE
    error = await slack_error(client.users_info(user="nobody"))
    assert error.response["error"] == "user_not_found"


# -- views --------------------------------------------------------------------------------------


async def test_views_open_needs_a_trigger_the_stand_in_issued(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    trigger = slack.issue_trigger_id(ALICE)
    opened = await client.views_open(trigger_id=trigger, view=MODAL)
    view_id = opened["view"]["id"]
    assert view_id.startswith("V")
    assert [(v.id, v.user, v.payload["callback_id"]) for v in slack.views()] == [
        (view_id, ALICE, "incident.new")
    ]
    reused = await slack_error(client.views_open(trigger_id=trigger, view=MODAL))
    assert reused.response["error"] == "exchanged_trigger_id"
    made_up = await slack_error(client.views_open(trigger_id="1.2.deadbeef", view=MODAL))
    assert made_up.response["error"] == "invalid_trigger_id"


async def test_an_old_trigger_has_expired() -> None:
    async with SlackStandIn(trigger_ttl=0.0) as slack:
        trigger = slack.issue_trigger_id()
        await asyncio.sleep(0.01)
        client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
        error = await slack_error(client.views_open(trigger_id=trigger, view=MODAL))
        assert error.response["error"] == "expired_trigger_id"


async def test_views_update_replaces_the_view_and_checks_its_hash(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    opened = await client.views_open(trigger_id=slack.issue_trigger_id(), view=MODAL)
    view = opened["view"]
    renamed = {**MODAL, "title": {"type": "plain_text", "text": "Declaring…"}}
    updated = await client.views_update(view_id=view["id"], hash=view["hash"], view=renamed)
    assert updated["view"]["title"]["text"] == "Declaring…"
    stale = await slack_error(client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL))
    assert stale.response["error"] == "hash_conflict"
    missing = await slack_error(client.views_update(view_id="V0NONE", view=MODAL))
    assert missing.response["error"] == "not_found"


# -- response_url -------------------------------------------------------------------------------


async def test_response_url_defaults_to_an_ephemeral_for_its_user(slack: SlackStandIn) -> None:
    url = slack.new_response_url(GENERAL, ALICE)
    assert await respond(url, text="help text") == OK
    assert [e.text for e in slack.ephemerals(GENERAL, ALICE)] == ["help text"]
    assert slack.messages(GENERAL) == []
    assert slack.calls("response_url")[0].args == {"text": "help text"}


async def test_response_url_in_channel_posts_a_visible_message(slack: SlackStandIn) -> None:
    url = slack.new_response_url(GENERAL, ALICE)
    assert await respond(url, text="INC-1 declared", response_type="in_channel", blocks=SECTION) == OK
    [message] = slack.messages(GENERAL)
    assert (message.text, message.blocks, message.user) == ("INC-1 declared", SECTION, "U0INCBOT")


async def test_response_url_replaces_and_deletes_its_original_message(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    card = await client.chat_postMessage(channel=GENERAL, text="page 1", blocks=SECTION)
    url = slack.new_response_url(GENERAL, ALICE, message_ts=card["ts"])
    assert await respond(url, text="page 2", replace_original=True) == OK
    message = slack.message(GENERAL, card["ts"])
    assert message is not None
    assert (message.text, message.blocks) == ("page 2", [])
    assert await respond(url, delete_original=True) == OK
    assert slack.messages(GENERAL) == []


async def test_response_url_replaces_an_ephemeral_original(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    listed = await client.chat_postEphemeral(channel=GENERAL, user=ALICE, text="page 1")
    url = slack.new_response_url(GENERAL, ALICE, message_ts=listed["message_ts"])
    assert await respond(url, text="page 2", replace_original=True) == OK
    [ephemeral] = slack.ephemerals(GENERAL, ALICE)
    assert (ephemeral.ts, ephemeral.text, ephemeral.replaced) == (listed["message_ts"], "page 2", True)


async def test_a_slash_command_response_becomes_the_original_later_replies_replace(
    slack: SlackStandIn,
) -> None:
    url = slack.new_response_url(GENERAL, ALICE)
    await respond(url, text="working…")
    await respond(url, text="done", replace_original=True)
    assert [e.text for e in slack.ephemerals(GENERAL, ALICE)] == ["done"]


async def test_response_url_refusals(slack: SlackStandIn) -> None:
    assert await respond(f"{slack.url}/response/not-issued", text="hi") == (404, "no_service")
    url = slack.new_response_url(GENERAL, ALICE)
    assert await respond(url) == (400, "invalid_payload")  # the webhook client sends `null`
    assert await respond(url, response_type="ephemeral") == (400, "no_text")
    assert await respond(url, delete_original=True) == (404, "message_not_found")
    assert [c.status for c in slack.calls("response_url")] == [404, 400, 400, 404]


# -- faults -------------------------------------------------------------------------------------


async def test_429_carries_retry_after_and_changes_nothing(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=7)
    error = await slack_error(client.chat_postMessage(channel=GENERAL, text="hi"))
    assert error.response.status_code == 429
    assert error.response.headers["Retry-After"] == "7"
    assert error.response["error"] == "ratelimited"
    assert slack.messages(GENERAL) == []
    [call] = slack.calls("chat.postMessage")
    assert (call.status, call.error, call.args["text"]) == (429, "ratelimited", "hi")
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]


async def test_queued_faults_play_in_order(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.fail_next("chat.postMessage", status=500, times=2)
    slack.fail_next("chat.*", error="channel_not_found")
    statuses = []
    for _ in range(4):
        try:
            await client.chat_postMessage(channel=GENERAL, text="hi")
            statuses.append("ok")
        except SlackApiError as exc:
            statuses.append(f"{exc.response.status_code} {exc.response['error']}")
    assert statuses == ["500 internal_error", "500 internal_error", "200 channel_not_found", "ok"]
    assert len(slack.messages(GENERAL)) == 1
    assert slack.faults.pending() == 0


async def test_a_fault_for_one_method_leaves_others_alone(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    slack.fail_next("chat.update", status=500)
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]
    assert slack.faults.pending() == 1


async def test_latency_slows_answers(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.set_latency(0.2, method="auth.test")
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    await client.conversations_info(channel=GENERAL)
    assert time.monotonic() - started < 0.2


async def test_latency_beyond_the_client_timeout_times_out(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", delay=2.0)
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url, timeout=1)
    with pytest.raises(TimeoutError):
        await client.chat_postMessage(channel=GENERAL, text="slow")


async def test_down_mode_lasts_until_switched_off(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.set_down(True, methods=("chat.*",))
    for _ in range(3):
        error = await slack_error(client.chat_postMessage(channel=GENERAL, text="hi"))
        assert (error.response.status_code, error.response["error"]) == (503, "service_unavailable")
    assert (await client.auth_test())["ok"]
    slack.set_down(False)
    assert (await client.chat_postMessage(channel=GENERAL, text="hi"))["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [503, 503, 503, 200]
    assert len(slack.messages(GENERAL)) == 1


async def test_response_url_can_fault_too(slack: SlackStandIn) -> None:
    slack.fail_next("response_url", status=500)
    url = slack.new_response_url(GENERAL, ALICE)
    assert await respond(url, text="hi") == (500, "internal_error")
    assert slack.ephemerals(GENERAL, ALICE) == []


async def test_slack_sdk_retry_handlers_recover_from_scripted_faults(slack: SlackStandIn) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    client.retry_handlers = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        AsyncServerErrorRetryHandler(
            max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01)
        ),
    ]
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    slack.fail_next("chat.postMessage", status=503)
    assert (await client.chat_postMessage(channel=GENERAL, text="eventually"))["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [429, 503, 200]
    assert [m.text for m in slack.messages(GENERAL)] == ["eventually"]


# -- waiting and listening ----------------------------------------------------------------------


async def test_wait_for_returns_once_enough_calls_arrive(slack: SlackStandIn, client: AsyncWebClient) -> None:
    async def post_later() -> None:
        for n in range(2):
            await asyncio.sleep(0.05)
            await client.chat_postMessage(channel=GENERAL, text=f"n{n}")

    task = asyncio.create_task(post_later())
    calls = await slack.wait_for("chat.postMessage", count=2, timeout=5)
    await task
    assert [c.args["text"] for c in calls] == ["n0", "n1"]


async def test_wait_for_times_out_saying_what_it_saw(slack: SlackStandIn, client: AsyncWebClient) -> None:
    await client.auth_test()
    with pytest.raises(TimeoutError, match=r"'chat.update'.*auth.test=200/ok"):
        await slack.wait_for("chat.update", timeout=0.05)


async def test_clear_forgets_calls_but_keeps_messages(slack: SlackStandIn, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=GENERAL, text="hi")
    slack.clear()
    assert slack.calls() == []
    assert len(slack.messages(GENERAL)) == 1


async def test_subscribers_hear_every_change_until_they_unsubscribe(
    slack: SlackStandIn, client: AsyncWebClient
) -> None:
    heard: list[Change] = []
    unsubscribe = slack.subscribe(heard.append)
    posted = await client.chat_postMessage(channel=GENERAL, text="hi")
    assert [(c.kind, c.channel, c.ts) for c in heard] == [
        ("message_posted", GENERAL, posted["ts"]),
        ("call", None, None),
    ]
    call = heard[1].call
    assert call is not None
    assert call.method == "chat.postMessage"
    unsubscribe()
    await client.chat_postMessage(channel=GENERAL, text="again")
    assert len(heard) == 2
