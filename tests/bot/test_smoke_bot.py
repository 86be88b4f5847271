from tests.bot.conftest import BotHarness


async def test_help_and_declare(bot: BotHarness) -> None:
    body = await bot.command("help")
    assert "Incident commands" in body["text"]
    body = await bot.command("new sev1 Checkout is down")
    assert "INC-1" in body["text"], body
    body = await bot.command("list")
    assert "Checkout is down" in str(body["blocks"])
    body = await bot.command("ack 1 on it")
    assert "acknowledged INC-1" in body["text"], body
    body = await bot.command("ack 1")
    assert "already acknowledged" in body["text"], body
    body = await bot.command("sev9 x")
    assert "not a subcommand" in body["text"], body
