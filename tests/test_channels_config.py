"""Channels in Bottender's config shape: each field checked and named when wrong, disabled
channels skipped, ``path`` and ``apiBase`` taken, and no secret shown in full in a repr or
an error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bottender_nb import Bot, ConfigError
from standins import SECRETS, channels_config, post


async def action(context: Any) -> None:
    context.set_state(seen=True)


@pytest.mark.parametrize("platform, field", [
    (platform, field) for platform, options in SECRETS.items() for field in options
    if field != "secretToken"  # optional: Telegram then checks no header
])
def test_a_missing_field_is_named(platform: str, field: str) -> None:
    options = {k: v for k, v in SECRETS[platform].items() if k != field}
    with pytest.raises(ConfigError, match=rf"^channels\.{platform}\.{field} is missing; "):
        Bot(action, channels={platform: options})


@pytest.mark.parametrize("platform, field", [
    (platform, field) for platform, options in SECRETS.items() for field in options
])
def test_a_wrong_typed_field_is_named(platform: str, field: str) -> None:
    options = {**SECRETS[platform], field: 12345}
    with pytest.raises(ConfigError, match=rf"^channels\.{platform}\.{field} is "):
        Bot(action, channels={platform: options})


@pytest.mark.parametrize("config, words", [
    ({"line": {**SECRETS["line"], "path": "webhooks/line"}}, "channels.line.path"),
    ({"line": {**SECRETS["line"], "apiBase": "api.line.me"}}, "channels.line.apiBase"),
    ({"line": {**SECRETS["line"], "enabled": "yes"}}, "channels.line.enabled"),
    ({"line": {**SECRETS["line"], "channelSecet": "x"}}, "'channelSecet' in channels.line"),
    ({"wechat": {}}, "Unknown channel 'wechat'"),
    ({"line": "secret"}, "channels.line is str"),
    (["line"], "channels is list"),
    ({"viber": {**SECRETS["viber"], "sender": "Bot"}}, "channels.viber.sender"),
])
def test_other_bad_channel_configs_are_named(config: Any, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
        Bot(action, channels=config)


def test_a_wrong_typed_secret_is_not_shown() -> None:
    secret = b"line-channel-secret-as-bytes-0123"
    with pytest.raises(ConfigError) as caught:
        Bot(action, channels={"line": {**SECRETS["line"], "channelSecret": secret}})
    assert "channels.line.channelSecret is a bytes" in str(caught.value)
    assert "as-bytes" not in str(caught.value)


def test_disabled_channels_are_not_checked_nor_served() -> None:
    bot = Bot(action, channels={"line": {**SECRETS["line"]},
                                "messenger": {"enabled": False, "accessToken": None},
                                "slack": {"enabled": True, **SECRETS["slack"]}})
    assert sorted(bot.channels) == ["line", "slack"]


def test_from_config_file_with_channels(tmp_path: Path) -> None:
    config = {"session": {"driver": "file", "stores": {"file": {"dirname": str(tmp_path / "s")}}},
              "channels": {"line": {**SECRETS["line"], "path": "/hooks/line"},
                           "telegram": {"enabled": False}}}
    path = tmp_path / "bottender.config.json"
    path.write_text(json.dumps(config))
    bot = Bot.from_config(action, path)
    assert list(bot.channels) == ["line"] and bot.channels["line"].path == "/hooks/line"
    assert bot.channels["line"].api_base == "https://api.line.me"
    with pytest.raises(ConfigError, match="channels.line.channelSecret is missing"):
        Bot.from_config(action, {**config, "channels": {"line": {"accessToken": "x"}}})


async def test_a_channel_is_served_at_its_path_only() -> None:
    config = {"line": {**SECRETS["line"], "path": "/hooks/my-line"}}
    app = Bot(action, channels=config).webhook_app()
    body = {"destination": "U1", "events": []}
    assert (await post(app, "line", body, path="/hooks/my-line")).status_code == 200
    assert (await post(app, "line", body)).status_code == 404


async def test_a_get_on_a_post_only_channel_is_405() -> None:
    app = Bot(action, channels=channels_config()).webhook_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://testserver") as client:
        assert (await client.get("/webhooks/line")).status_code == 405


def test_reprs_show_no_secret_in_full() -> None:
    bot = Bot(action, channels=channels_config())
    shown = repr(bot.channels)
    for options in SECRETS.values():
        for field in ("channelSecret", "accessToken", "appSecret", "verifyToken",
                      "signingSecret", "secretToken", "authToken"):
            if field in options:
                assert options[field] not in shown
                assert options[field][:4] + "…" in shown
