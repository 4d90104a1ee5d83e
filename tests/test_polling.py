"""``bot.poll_telegram()`` against a loopback stand-in of Telegram's ``getUpdates`` and
``sendMessage`` (a real HTTP server started by each test): every update handled once, the
offset advanced, a restart that skips what was handled, a set webhook as one line."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bottender_nb import Bot, FileSessionStore
from bottender_nb.errors import ServeError
from telegram_standin import TOKEN, TelegramStandIn, message


async def count(context) -> None:
    number = context.state.get("count", 0) + 1
    context.set_state(count=number)
    await context.send_text(f"Count: {number} ({context.event.text})")


@pytest.fixture
def telegram() -> Iterator[TelegramStandIn]:
    with TelegramStandIn() as standin:
        yield standin


def make_bot(telegram: TelegramStandIn, dirname: Path, action=count) -> Bot:
    channels = {"telegram": {"accessToken": TOKEN, "apiBase": telegram.api_base}}
    return Bot(action, session_store=FileSessionStore(str(dirname)), channels=channels)


def texts(telegram: TelegramStandIn) -> list[str]:
    return [sent["text"] for sent in telegram.sent]


def test_each_update_is_handled_once_and_the_offset_moves_past_it(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    for update_id, text in ((7, "a"), (8, "b"), (9, "c")):
        telegram.add(message(update_id, text))
    polling = make_bot(telegram, tmp_path).poll_telegram(timeout=30)
    try:
        telegram.wait_for(lambda: len(telegram.sent) == 3)
        telegram.add(message(10, "d"))
        telegram.wait_for(lambda: len(telegram.sent) == 4 and telegram.offsets[-1] == 11)
    finally:
        polling.stop()
    assert texts(telegram) == ["Count: 1 (a)", "Count: 2 (b)", "Count: 3 (c)", "Count: 4 (d)"]
    assert {sent["chat_id"] for sent in telegram.sent} in ({427770117}, {"427770117"})
    # The first poll asks from the start; each next one from the last update handled + 1.
    assert telegram.offsets[0] is None and 10 in telegram.offsets, telegram.offsets
    assert set(telegram.offsets[1:]) <= {10, 11}, telegram.offsets
    assert polling.offset == 11 and not polling.running


def test_a_restart_skips_the_updates_already_handled(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    """Updates handled but never confirmed (the kernel died) come again; the next poller, on
    the same store, skips them and handles only the new one."""
    first = [message(1, "a"), message(2, "b")]
    for update in first:
        telegram.add(update)
    polling = make_bot(telegram, tmp_path).poll_telegram(timeout=30)
    try:
        telegram.wait_for(lambda: len(telegram.sent) == 2)
    finally:
        polling.stop()
    telegram.forget_confirmations(first)
    telegram.add(message(3, "c"))
    restarted = make_bot(telegram, tmp_path)
    polling = restarted.poll_telegram(timeout=30)
    try:
        telegram.wait_for(lambda: len(telegram.sent) >= 3 and telegram.offsets[-1] == 4)
    finally:
        polling.stop()
    assert texts(telegram) == ["Count: 1 (a)", "Count: 2 (b)", "Count: 3 (c)"]
    assert [turn.text for turn in restarted.history("telegram:427770117")] == ["a", "b", "c"]


def test_a_set_webhook_is_a_one_line_error_saying_to_delete_it(
    telegram: TelegramStandIn, tmp_path: Path
) -> None:
    telegram.webhook_set = True
    with pytest.raises(ServeError) as raised:
        make_bot(telegram, tmp_path).poll_telegram()
    text = str(raised.value)
    assert "409" in text and "delete the webhook first (deleteWebhook" in text, text
    assert "\n" not in text
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert not [t for t in threading.enumerate() if t.name.startswith("bottender-nb poll")]


def test_a_failing_update_is_logged_without_the_token_and_not_retried(
    telegram: TelegramStandIn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def fails_on_boom(context) -> None:
        if context.event.text == "boom":
            raise ValueError(f"cannot handle {context.event.text}")
        await count(context)

    telegram.add(message(1, "boom"))
    telegram.add(message(2, "fine"))
    with caplog.at_level(logging.INFO):
        polling = make_bot(telegram, tmp_path, fails_on_boom).poll_telegram(timeout=30)
        try:
            telegram.wait_for(lambda: len(telegram.sent) == 1 and telegram.offsets[-1] == 3)
        finally:
            polling.stop()
    assert texts(telegram) == ["Count: 1 (fine)"]
    failed = [r.getMessage() for r in caplog.records if r.name.startswith("bottender_nb")]
    assert failed == ["Telegram update 1 failed: ValueError: cannot handle boom"], failed
    secret = TOKEN.split(":")[1]  # httpx logs every URL, and the token is in the path
    assert not any(secret in r.getMessage() for r in caplog.records), caplog.text
