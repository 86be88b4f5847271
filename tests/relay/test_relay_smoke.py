from tests.support.bot import GENERAL, BotHarness


async def test_card_posted_and_updated(bot: BotHarness) -> None:
    await bot.command("new sev2 Payments slow")
    [post] = await bot.stand_in.wait_for("chat.postMessage", 1)
    assert post.args["channel"] == GENERAL
    await bot.command("resolve 1 fixed the pool")
    await bot.stand_in.wait_for("chat.update", 1)
    calls = await bot.stand_in.wait_for("chat.postMessage", 2)
    assert "resolved INC-1: fixed the pool" in calls[1].args["text"]
    assert calls[1].args["thread_ts"] == calls[0].response["ts"]
