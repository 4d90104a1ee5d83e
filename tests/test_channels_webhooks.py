"""``webhook_app`` beyond signatures: a redelivered event is handled once (also by a second
process sharing a file store), the Messenger and Slack handshakes, and 400 with the one-line
error for a body that is not the platform's shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bottender_nb import Bot, FileSessionStore
from bottender_nb.platforms import get_platform
from standins import SECRETS, StandIn, channels_config, post
from test_channels_replies import LINE_EVENT, SLACK_BODY

LINE_BODY = {"destination": "U" + "b" * 32, "events": [LINE_EVENT]}
LINE_SESSION = f"line:{LINE_EVENT['source']['userId']}"


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


async def count(context: Any) -> None:
    context.set_state(count=context.state.get("count", 0) + 1)
    await context.send_text(f"count {context.state['count']}")


async def test_a_redelivered_line_event_is_handled_once(standin: StandIn) -> None:
    bot = Bot(count, channels=channels_config(standin.url))
    app = bot.webhook_app()
    first = await post(app, "line", LINE_BODY)
    redelivered = {**LINE_BODY, "events": [{**LINE_EVENT, "deliveryContext": {"isRedelivery": True}}]}
    again = await post(app, "line", redelivered)
    assert (first.status_code, again.status_code) == (200, 200)
    assert len(bot.history(LINE_SESSION)) == 1
    assert len(standin.requests) == 1
    assert (await bot.read_session(LINE_SESSION))["_state"] == {"count": 1}


async def test_a_slack_retry_is_handled_once(standin: StandIn) -> None:
    bot = Bot(count, channels=channels_config(standin.url))
    app = bot.webhook_app()
    first = await post(app, "slack", SLACK_BODY)
    retry = await post(app, "slack", SLACK_BODY,
                       headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert len(bot.history("slack:C2147483705")) == 1
    assert len(standin.requests) == 1


async def test_a_new_event_of_the_same_session_is_handled(standin: StandIn) -> None:
    bot = Bot(count, channels=channels_config(standin.url))
    app = bot.webhook_app()
    await post(app, "line", LINE_BODY)
    other = {**LINE_EVENT, "webhookEventId": "01HE2PEX0000000000000000B2", "replyToken": "t2"}
    assert (await post(app, "line", {**LINE_BODY, "events": [other]})).status_code == 200
    assert len(bot.history(LINE_SESSION)) == 2


SECOND_PROCESS = textwrap.dedent("""
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[3])
    from bottender_nb import Bot, FileSessionStore
    from standins import channels_config, post

    async def count(context):
        context.set_state(count=context.state.get("count", 0) + 1)
        await context.send_text("count")

    async def main():
        bot = Bot(count, session_store=FileSessionStore(sys.argv[1]),
                  channels=channels_config(sys.argv[2]))
        body = json.loads(sys.stdin.read())
        response = await post(bot.webhook_app(), "line", body)
        print(response.status_code)

    asyncio.run(main())
""")


def test_a_redelivery_to_another_process_sharing_the_store_is_not_handled_again(
    standin: StandIn, tmp_path: Path
) -> None:
    tests = str(Path(__file__).parent)
    statuses = [
        subprocess.run(
            [sys.executable, "-c", SECOND_PROCESS, str(tmp_path), standin.url, tests],
            input=json.dumps(LINE_BODY), capture_output=True, text=True, timeout=120,
            env={**os.environ}, check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert statuses == ["200", "200"]
    assert len(standin.requests) == 1
    bot = Bot(count, session_store=FileSessionStore(str(tmp_path)))
    assert len(bot.history(LINE_SESSION)) == 1


async def test_the_messenger_handshake() -> None:
    bot = Bot(count, channels=channels_config())
    token = SECRETS["messenger"]["verifyToken"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bot.webhook_app()),
                                 base_url="http://testserver") as client:
        right = await client.get("/webhooks/messenger", params={
            "hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"})
        wrong = await client.get("/webhooks/messenger", params={
            "hub.mode": "subscribe", "hub.verify_token": token + "x", "hub.challenge": "1"})
    assert (right.status_code, right.text) == (200, "1158201444")
    assert wrong.status_code == 403 and token not in wrong.text


async def test_the_slack_url_verification_is_answered_not_handled() -> None:
    bot = Bot(count, channels=channels_config())
    body = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification"}
    response = await post(bot.webhook_app(), "slack", body)
    assert response.status_code == 200
    assert response.json() == {"challenge": body["challenge"]}
    forged = await post(bot.webhook_app(), "slack", body, sign_with={"signingSecret": "other"})
    assert forged.status_code == 401


@pytest.mark.parametrize("platform, raw, words", [
    ("line", b"not json", "line webhook body is not JSON"),
    ("line", b"[1, 2]", "line webhook body is a JSON list, not an object"),
    ("line", b'{"events": {"a": 1}}', "line body field events is a dict"),
    ("line", b'{"events": [{"source": {"type": "shop"}}]}', "is not one of user, group, room"),
    ("telegram", b'{"update_id": 1, "message": {"chat": [1]}}', "message.chat"),
    ("messenger", b'{"entry": 5}', "entry"),
    ("viber", b"\xff\xfe", "viber webhook body is not JSON"),
    ("slack", b'{"payload": "{not json"}', "Slack interactive payload is not JSON"),
])
async def test_a_body_not_of_the_platforms_shape_is_400_with_one_line(
    platform: str, raw: bytes, words: str
) -> None:
    bot = Bot(count, channels=channels_config())
    response = await post(bot.webhook_app(), platform, raw)
    assert response.status_code == 400
    assert words in response.text and "\n" not in response.text


@pytest.mark.parametrize("raw", [b"Body=hi&no-equals-sign", b"Body=hi&&From=x"])
async def test_a_form_that_is_not_twilios_is_400(raw: bytes) -> None:
    bot = Bot(count, channels=channels_config())
    response = await post(bot.webhook_app(), "whatsapp", raw,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and "whatsapp webhook body is not a form" in response.text


async def test_slack_forms_interactive_and_slash_commands_are_handled(standin: StandIn) -> None:
    bot = Bot(count, channels=channels_config(standin.url))
    app = bot.webhook_app()
    button = get_platform("slack").build_body(payload="YES")
    slash = {"command": "/count", "text": "now", "user_id": "U1", "channel_id": "C9",
             "team_id": "T1", "token": "x"}
    assert (await post(app, "slack", button)).status_code == 200
    assert (await post(app, "slack", slash)).status_code == 200
    assert [turn.payload for turn in bot.history("slack:D1")] == ["YES"]
    assert [turn.text for turn in bot.history("slack:C9")] == ["now"]
    assert [json.loads(r.body)["channel"] if r.body.startswith(b"{") else r.form["channel"]
            for r in standin.requests] == ["D1", "C9"]
