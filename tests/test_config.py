"""SPEC §3: Bottender-shaped configuration from a dict, a .json or a .py file."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bottender_nb import Bot, ConfigError, FileSessionStore, MemorySessionStore


async def action(context):
    context.set_state({"count": context.state["count"] + 1})


BOTTENDER_CONFIG = {
    "initialState": {"count": 0},
    "session": {
        "driver": "file",
        "expiresIn": 30,
        "stores": {
            "memory": {"maxSize": 500},
            "file": {"dirname": ".sessions"},
            "redis": {"port": 6379, "host": "127.0.0.1", "password": None, "db": 0},
            "mongo": {"url": "mongodb://localhost:27017", "collectionName": "sessions"},
        },
    },
}


def with_dirname(config: dict, dirname: str) -> dict:
    config = json.loads(json.dumps(config))
    config["session"]["stores"]["file"]["dirname"] = dirname
    return config


def test_from_a_dict_builds_the_configured_store(tmp_path):
    bot = Bot.from_config(action, with_dirname(BOTTENDER_CONFIG, str(tmp_path / "s")))
    assert isinstance(bot.session_store, FileSessionStore)
    assert bot.session_store.expires_in == dt.timedelta(minutes=30)
    assert dict(bot.initial_state) == {"count": 0}
    bot.say("Hi")
    assert (tmp_path / "s" / "console:1.json").is_file()


def test_from_a_json_file_and_a_path_object(tmp_path):
    path = tmp_path / "bottender.config.json"
    path.write_text(json.dumps(with_dirname(BOTTENDER_CONFIG, str(tmp_path / "s"))))
    for config in (path, str(path)):
        assert isinstance(Bot.from_config(action, config).session_store, FileSessionStore)


def test_from_a_python_file_defining_config(tmp_path):
    path = tmp_path / "bottender.config.py"
    path.write_text(
        "config = {'initialState': {'count': 10},\n"
        "          'session': {'driver': 'memory', 'stores': {'memory': {'maxSize': 3}}}}\n"
    )
    bot = Bot.from_config(action, path)
    assert isinstance(bot.session_store, MemorySessionStore)
    assert bot.session_store.max_size == 3
    bot.say("Hi")
    assert bot.say("Hi") == []


def test_no_session_section_means_memory():
    assert isinstance(Bot.from_config(action, {}).session_store, MemorySessionStore)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"session": {"driver": "sqlite"}}, "Unknown session driver 'sqlite'"),
        ({"session": {"driver": "memory", "stores": {"memory": {"maxsize": 5}}}}, "'maxsize'"),
        ({"initialState": [1, 2]}, "initialState must be an object"),
        ({"session": "file"}, "session must be an object"),
    ],
)
def test_a_bad_config_says_what_is_wrong(config, message):
    with pytest.raises(ConfigError, match=message):
        Bot.from_config(action, config)


def test_a_missing_or_wrong_file_says_so(tmp_path):
    with pytest.raises(ConfigError, match="No config file"):
        Bot.from_config(action, tmp_path / "nope.json")
    py = tmp_path / "bottender.config.py"
    py.write_text("settings = {}\n")
    with pytest.raises(ConfigError, match="must define a variable named `config`"):
        Bot.from_config(action, py)
    bad = tmp_path / "bottender.config.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Bot.from_config(action, bad)
