"""Webhook signatures, with the platforms' own code as the oracle: a request signed by
line-bot-sdk, slack_sdk's SignatureVerifier or twilio's RequestValidator (Messenger, Telegram
and Viber: their documented algorithms, computed here) is handled (200); the same request
with one byte changed, an old timestamp or another secret gets 401 and changes no session."""

from __future__ import annotations

import asyncio
import string
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bottender_nb import Bot
from bottender_nb.platforms import Source, get_platform
from standins import SECRETS, encode, post

PLATFORMS = ["line", "messenger", "slack", "telegram", "viber", "whatsapp"]
SECRET_FIELD = {"line": "channelSecret", "messenger": "appSecret", "slack": "signingSecret",
                "telegram": "secretToken", "viber": "accessToken", "whatsapp": "authToken"}
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
USER = st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)
# Telegram allows A-Z, a-z, 0-9, _ and - in a secret token, 1 to 256 of them.
TOKEN = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=64)
SECRET = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=64).filter(
    str.strip)  # slack_sdk refuses a blank secret


async def count(context: Any) -> None:
    context.set_state(count=context.state.get("count", 0) + 1)


def make_bot(platform: str, secret: str) -> Bot:
    return Bot(count, channels={platform: {**SECRETS[platform], SECRET_FIELD[platform]: secret}})


def session_id(platform: str, body: dict[str, Any]) -> str:
    handler = get_platform(platform)
    return f"{platform}:{handler.session_key(handler.split(body)[0])}"


async def forged_then_signed(platform: str, secret: str, other: str, body: dict[str, Any],
                             byte: int) -> list[int]:
    """Status codes of: the body with one byte changed, signed with another secret, with no
    signature, then signed right; the session must stay absent until the last."""
    bot = make_bot(platform, secret)
    app = bot.webhook_app()
    signed_with = {SECRET_FIELD[platform]: secret}
    statuses = []
    if platform != "telegram":  # Telegram signs no body: its token is the whole check
        size = len(encode(platform, body)[0])
        statuses.append((await post(app, platform, body, sign_with=signed_with,
                                    tamper=byte % size)).status_code)
    statuses.append((await post(app, platform, body,
                                sign_with={SECRET_FIELD[platform]: other})).status_code)
    unsigned = {name: "" for name in ("x-line-signature", "x-hub-signature-256",
                                      "x-slack-signature", "x-telegram-bot-api-secret-token",
                                      "x-viber-content-signature", "x-twilio-signature")}
    statuses.append((await post(app, platform, body, sign_with=signed_with,
                                headers=unsigned)).status_code)
    assert await bot.read_session(session_id(platform, body)) is None
    statuses.append((await post(app, platform, body, sign_with=signed_with)).status_code)
    assert (await bot.read_session(session_id(platform, body)))["_state"] == {"count": 1}
    return statuses


@pytest.mark.parametrize("platform", PLATFORMS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=TEXT, user=USER, byte=st.integers(0, 10**6))
def test_signed_requests_are_handled_and_forged_ones_refused(
    platform: str, data: st.DataObject, text: str, user: str, byte: int
) -> None:
    secrets = TOKEN if platform == "telegram" else SECRET
    secret = data.draw(secrets)
    other = data.draw(secrets.filter(lambda s: s != secret))
    body = get_platform(platform).build_body(text=text, source=Source(user=user))
    statuses = asyncio.run(forged_then_signed(platform, secret, other, body, byte))
    assert statuses == [401] * (len(statuses) - 1) + [200]


@pytest.mark.parametrize("age", [-301, 301, 3600])
def test_a_slack_request_outside_the_5_minute_window_is_refused(age: int) -> None:
    async def run() -> tuple[int, int]:
        bot = make_bot("slack", SECRETS["slack"]["signingSecret"])
        now = 1_700_000_000
        bot.channels["slack"].clock = lambda: now
        body = get_platform("slack").build_body(text="hi")
        old = await post(bot.webhook_app(), "slack", body, timestamp=now - age)
        assert await bot.read_session(session_id("slack", body)) is None
        fresh = await post(bot.webhook_app(), "slack", body, timestamp=now - 299)
        return old.status_code, fresh.status_code

    assert asyncio.run(run()) == (401, 200)


def test_telegram_without_a_secret_token_takes_every_request() -> None:
    async def run() -> int:
        bot = Bot(count, channels={"telegram": {"accessToken": "1:x"}})
        body = get_platform("telegram").build_body(text="hi")
        return (await post(bot.webhook_app(), "telegram", body,
                           headers={"x-telegram-bot-api-secret-token": ""})).status_code

    assert asyncio.run(run()) == 200


def test_twilio_signs_the_public_url_when_the_server_is_behind_a_tunnel() -> None:
    public = "https://example-tunnel.example.com"

    async def run() -> list[int]:
        bot = make_bot("whatsapp", SECRETS["whatsapp"]["authToken"])
        body = get_platform("whatsapp").build_body(text="hi")
        seen_url = await post(bot.webhook_app(public_url=public), "whatsapp", body)
        assert await bot.read_session(session_id("whatsapp", body)) is None
        public_signed = await post(bot.webhook_app(public_url=public), "whatsapp", body,
                                   public_url=public)
        behind_nothing = await post(bot.webhook_app(), "whatsapp", body)
        return [seen_url.status_code, public_signed.status_code, behind_nothing.status_code]

    assert asyncio.run(run()) == [401, 200, 200]


def test_signature_checks_take_the_request_time_not_a_fixed_one() -> None:
    bot = make_bot("slack", SECRETS["slack"]["signingSecret"])
    body = get_platform("slack").build_body(text="hi")
    status = asyncio.run(post(bot.webhook_app(), "slack", body, timestamp=int(time.time())))
    assert status.status_code == 200
