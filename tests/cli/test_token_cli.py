"""`incident-tracker token issue|list|revoke` as a user runs it, against a running server's database."""

from __future__ import annotations

import os

import pytest

from domain.api_tokens import TOKEN_NAME_MAX
from tests.support.bot import SIGNING_SECRET, TEAM, BotHarness
from tests.support.cli import run_cli

pytestmark = pytest.mark.asyncio


async def cli(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "API_TOKEN_SECRET"}}
    env |= {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "DATABASE_URL": database_url}
    return await run_cli("token", *args, env=env)


async def get(bot: BotHarness, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with bot.session.get(f"{bot.url}/api/v1/incidents", headers=headers) as response:
        return response.status


async def test_issue_list_revoke(bot: BotHarness, database_url: str) -> None:
    code, out, err = await cli(
        database_url,
        "issue",
        "--name",
        "alertmanager",
        "--team",
        TEAM,
        "--scope",
        "incidents:read",
        "--ttl",
        "1d",
    )
    assert code == 0, err
    token = out.strip()
    assert token.count(".") == 2
    assert "printed once" in err
    assert token not in err
    assert await get(bot, token) == 200

    code, listing, _ = await cli(database_url, "list")
    assert code == 0
    assert token not in listing
    assert token.split(".")[2] not in listing
    row = next(line for line in listing.splitlines() if "alertmanager" in line)
    jti = row.split()[0]
    assert (TEAM in row, "active" in row, "incidents:read" in row) == (True, True, True)

    code, out, _ = await cli(database_url, "revoke", jti)
    assert code == 0
    assert await get(bot, token) == 401
    code, listing, _ = await cli(database_url, "list")
    assert "revoked" in next(line for line in listing.splitlines() if jti in line)
    code, _, err = await cli(database_url, "revoke", jti)
    assert code == 1
    assert "no unrevoked token" in err


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "args",
    [
        ["--name", "x" * (TOKEN_NAME_MAX + 1), "--team", TEAM, "--scope", "incidents:read"],
        ["--name", "U0ALICE>", "--team", TEAM, "--scope", "incidents:read"],
        ["--name", "ok", "--team", "C0CHANNEL", "--scope", "incidents:read"],
        ["--name", "ok", "--team", TEAM, "--scope", "admin"],
        ["--name", "ok", "--team", TEAM, "--scope", "incidents:read", "--ttl", "0d"],
        ["--name", "ok", "--team", TEAM, "--scope", "incidents:read", "--ttl", "forever"],
    ],
    ids=["long-name", "markup-name", "channel-as-team", "unknown-scope", "zero-ttl", "bad-ttl"],
)
async def test_issue_refuses_bad_arguments(database_url: str, args: list[str]) -> None:
    code, out, err = await cli(database_url, "issue", *args)
    assert code == 2, err
    assert out == ""
    assert err.strip()
