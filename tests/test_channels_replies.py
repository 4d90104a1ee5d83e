"""Replies reach the user: a signed webhook through ``webhook_app``, the action's
``send_text``, and what each platform's API (a loopback stand-in, reached through the SDK's
own host / base URL option) was sent: method, path, auth header and body as each platform's
reference documents them. A refusal is a DeliveryError inside the action, naming the
platform and its answer, never a secret, and the session stays as it was."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bottender_nb import Bot
from bottender_nb.errors import DeliveryError
from bottender_nb.platforms import Source, get_platform
from standins import SECRETS, StandIn, channels_config, post

LINE_EVENT = {
    "type": "message", "mode": "active", "timestamp": 1700000000000,
    "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA", "webhookEventId": "01HE2PEX0000000000000000A1",
    "deliveryContext": {"isRedelivery": False},
    "source": {"type": "user", "userId": "U4af4980629b0f2d6d3c0a7b4b1d4c3a2"},
    "message": {"id": "468789577898262530", "type": "text", "text": "hi", "quoteToken": "q"},
}
SLACK_BODY = {
    "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
    "event_id": "Ev0000000001", "event_time": 1700000000,
    "event": {"type": "message", "user": "U2147483697", "text": "hi", "ts": "1700000000.000100",
              "channel": "C2147483705", "event_ts": "1700000000.000100", "channel_type": "channel"},
}
TWILIO = SECRETS["whatsapp"]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# platform -> (body, method, path, auth header, body field the API reads, what it must hold)
EXPECTED: dict[str, tuple[dict[str, Any], str, str, tuple[str, str], str, Any]] = {
    "line": ({"destination": "U" + "b" * 32, "events": [LINE_EVENT]},
             "POST", "/v2/bot/message/reply",
             ("authorization", f"Bearer {SECRETS['line']['accessToken']}"), "json",
             {"replyToken": LINE_EVENT["replyToken"], "messages": [{"type": "text", "text": "Hello"}]}),
    "messenger": (get_platform("messenger").build_body(text="hi", source=Source(user="1254")),
                  "POST", "/v21.0/me/messages",
                  ("authorization", f"Bearer {SECRETS['messenger']['accessToken']}"), "json",
                  {"recipient": {"id": "1254"}, "messaging_type": "RESPONSE",
                   "message": {"text": "Hello"}}),
    "slack": (SLACK_BODY, "POST", "/api/chat.postMessage",
              ("authorization", f"Bearer {SECRETS['slack']['accessToken']}"), "slack",
              {"channel": "C2147483705", "text": "Hello"}),
    "telegram": (get_platform("telegram").build_body(text="hi", source=Source(user="42")),
                 "POST", f"/bot{SECRETS['telegram']['accessToken']}/sendMessage",
                 ("content-type", "application/json"), "json", {"chat_id": "42", "text": "Hello"}),
    "viber": (get_platform("viber").build_body(text="hi", source=Source(user="01234567890A=")),
              "POST", "/pa/send_message",
              ("x-viber-auth-token", SECRETS["viber"]["accessToken"]), "json",
              {"receiver": "01234567890A=", "min_api_version": 1, "sender": {"name": "Bot"},
               "type": "text", "text": "Hello"}),
    "whatsapp": (get_platform("whatsapp").build_body(text="hi", source=Source(user="+15551234567")),
                 "POST", f"/2010-04-01/Accounts/{TWILIO['accountSid']}/Messages.json",
                 ("authorization", basic(TWILIO["accountSid"], TWILIO["authToken"])), "form",
                 {"From": "whatsapp:+14155238886", "To": "whatsapp:+15551234567", "Body": "Hello"}),
}


@pytest.fixture
def standin() -> Iterator[StandIn]:
    server = StandIn()
    yield server
    server.close()


async def greet(context: Any) -> None:
    await context.send_text("Hello")
    context.set_state(greeted=True)


def session_id(platform: str, body: dict[str, Any]) -> str:
    handler = get_platform(platform)
    return f"{platform}:{handler.session_key(handler.split(body)[0])}"


def sent_body(recorded: Any, kind: str) -> dict[str, Any]:
    if kind == "json":
        return recorded.json
    if kind == "slack":  # slack_sdk posts chat.postMessage as a form (Slack takes both)
        return recorded.json if recorded.body.startswith(b"{") else recorded.form
    return recorded.form


@pytest.mark.parametrize("platform", sorted(EXPECTED))
async def test_a_reply_goes_through_the_platforms_api(platform: str, standin: StandIn) -> None:
    body, method, path, (header, value), kind, expected = EXPECTED[platform]
    bot = Bot(greet, channels={platform: channels_config(standin.url)[platform]})
    response = await post(bot.webhook_app(), platform, body)
    assert response.status_code == 200, response.text
    [sent] = standin.requests
    assert (sent.method, sent.path.split("?")[0]) == (method, path)
    assert sent.headers[header] == value
    assert {k: v for k, v in sent_body(sent, kind).items() if k in expected} == expected
    [turn] = bot.history(session_id(platform, body))
    assert turn.replies == ["Hello"]


async def test_a_second_line_reply_in_one_event_is_pushed(standin: StandIn) -> None:
    async def twice(context: Any) -> None:
        await context.send_text("one")
        await context.send_text("two")

    bot = Bot(twice, channels={"line": channels_config(standin.url)["line"]})
    body = {"destination": "U" + "b" * 32, "events": [LINE_EVENT]}
    assert (await post(bot.webhook_app(), "line", body)).status_code == 200
    assert [r.path for r in standin.requests] == ["/v2/bot/message/reply", "/v2/bot/message/push"]
    pushed = standin.requests[1].json
    assert (pushed["to"], pushed["messages"]) == (
        LINE_EVENT["source"]["userId"], [{"type": "text", "text": "two"}])


@pytest.mark.parametrize("platform", sorted(EXPECTED))
async def test_a_refused_reply_is_a_delivery_error_in_the_action(
    platform: str, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[DeliveryError] = []

    async def action(context: Any) -> None:
        context.set_state(tried=True)
        try:
            await context.send_text("Hello")
        except DeliveryError as exc:
            seen.append(exc)
            raise

    echoed = " ".join(v for v in SECRETS[platform].values() if isinstance(v, str))
    standin.fail(400, {"error": "invalid-recipient", "ok": False, "status": 3,
                       "description": "Bad Request: chat not found",
                       "message": f"refused here, it echoes {echoed}"})
    bot = Bot(action, channels={platform: channels_config(standin.url)[platform]})
    body = EXPECTED[platform][0]
    with caplog.at_level(logging.DEBUG):
        response = await post(bot.webhook_app(), platform, body)
    assert response.status_code == 502
    [error] = seen
    message = str(error)
    assert message.startswith(f"{platform} did not deliver the reply: it answered 400")
    assert any(word in message for word in ("invalid-recipient", "chat not found", "refused"))
    assert "\n" not in message and response.text == message
    assert await bot.read_session(session_id(platform, body)) is None
    # (the SDKs' own debug logs quote the answer as it came; a platform echoes no secret)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bottender_nb")]
    assert ours and ours[0] == message
    assert_no_secret(platform, [message, response.text, *ours])


async def test_an_api_that_does_not_answer_is_a_delivery_error() -> None:
    standin = StandIn()
    url = standin.url
    standin.close()  # nothing listens there any more
    for platform in sorted(EXPECTED):
        bot = Bot(greet, channels={platform: channels_config(url)[platform]})
        response = await post(bot.webhook_app(), platform, EXPECTED[platform][0])
        assert response.status_code == 502, platform
        assert response.text.startswith(f"{platform} did not deliver the reply: it answered no")
        assert_no_secret(platform, [response.text])


@pytest.mark.parametrize("platform", sorted(EXPECTED))
async def test_no_secret_in_the_logs_of_a_delivery(
    platform: str, standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    bot = Bot(greet, channels={platform: channels_config(standin.url)[platform]})
    with caplog.at_level(logging.DEBUG):
        response = await post(bot.webhook_app(), platform, EXPECTED[platform][0])
        await asyncio.sleep(0)
    assert response.status_code == 200
    assert standin.requests  # the delivery happened, and was logged by the clients
    assert_no_secret(platform, caplog_messages(caplog) + [repr(bot.channels[platform])])


def caplog_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def assert_no_secret(platform: str, texts: list[str]) -> None:
    secrets = [v for k, v in SECRETS[platform].items() if isinstance(v, str) and k != "accountSid"
               and k != "phoneNumber"]
    for text in texts:
        for secret in secrets:
            assert secret not in text, (secret, text)



async def test_viber_refusing_with_a_nonzero_status_is_a_delivery_error(standin: StandIn) -> None:
    standin.fail(200, {"status": 6, "status_message": "receiverNotSubscribed"})
    bot = Bot(greet, channels={"viber": channels_config(standin.url)["viber"]})
    response = await post(bot.webhook_app(), "viber", EXPECTED["viber"][0])
    assert response.status_code == 502 and "receiverNotSubscribed" in response.text


@pytest.mark.parametrize("platform", ["line", "slack", "whatsapp"])  # the SDKs read the answer
async def test_an_answer_not_of_the_platforms_shape_is_a_delivery_error(
    platform: str, standin: StandIn
) -> None:
    """A proxy's error page, a changed API: what the SDK cannot read is the platform's failure
    to deliver, answered 502 so the platform retries, never a 500 from inside the package."""
    standin.fail(200, ["not", "what", platform, "answers"])
    bot = Bot(greet, channels={platform: channels_config(standin.url)[platform]})
    response = await post(bot.webhook_app(), platform, EXPECTED[platform][0])
    assert response.status_code == 502, (platform, response.text)
    assert response.text.startswith(f"{platform} did not deliver the reply"), response.text
    assert_no_secret(platform, [response.text])
