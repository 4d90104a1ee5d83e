"""SPEC §3: Bottender-shaped configuration from a dict, a .json or a .py file."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bottender_nb import Bot, ConfigError, FileSessionStore, MemorySessionStore
from bottender_nb.errors import show
from bottender_nb.session.sync import run_sync


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
    bot.say("Hi")
    # The action counts up from the file's initialState, not from {'count': 0}.
    assert run_sync(bot.read_session("console:1"))["_state"] == {"count": 12}
    for user in ("2", "3", "4"):  # maxSize 3: a fourth session evicts the oldest
        bot.say("Hi", user=user)
    assert run_sync(bot.read_session("console:1")) is None


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


# --- every broken config is one ConfigError naming the path, the value and the fix ---


def _session(**session) -> dict:
    return {"session": session}


BROKEN = [
    (_session(driver=["file"]), r"Unknown session driver list \['file'\]"),
    (_session(driver=None), "Unknown session driver NoneType None"),
    (_session(expiresIn=float("nan")), r"session.expiresIn is float nan; .* e.g. expiresIn: 30"),
    (_session(expiresIn=float("inf")), r"session.expiresIn is float inf"),
    (_session(expiresIn=1e20), r"session.expiresIn is float 1e\+20"),
    (_session(expiresIn=10**5000), r"session.expiresIn is int <an int of 16610 bits>"),
    (_session(expiresIn=-5), r"session.expiresIn is int -5"),
    (_session(expiresIn="30 minutes"), r"session.expiresIn is str '30 minutes'"),
    (_session(expiresIn=True), r"session.expiresIn is bool True"),
    (_session(stores={"memory": {"maxSize": "10"}}), r"session.stores.memory.maxSize is str '10'"),
    (_session(stores={"memory": {"maxSize": 0}}), r"maxSize is int 0; it must be a whole number"),
    (_session(stores={"memory": {"maxSize": 1.5}}), r"maxSize is float 1.5"),
    (_session(stores={"memory": {"max_size": -1}}), r"session.stores.memory.max_size is int -1"),
    (_session(driver="redis", stores={"redis": {"port": "6379"}}),
     r"session.stores.redis.port is str '6379'; it must be a port number .* e.g. port: 6379"),
    (_session(driver="redis", stores={"redis": {"port": -1}}), r"redis.port is int -1"),
    (_session(driver="redis", stores={"redis": {"port": 70000}}), r"redis.port is int 70000"),
    (_session(driver="redis", stores={"redis": {"db": "0"}}), r"session.stores.redis.db is str '0'"),
    (_session(driver="redis", stores={"redis": {"url": "localhost:6379"}}),
     r"session.stores.redis.url is str 'localhost:6379'; it must be a redis://"),
    (_session(driver="redis", stores={"redis": {"url": "redis://host:port/0"}}), r"redis.url"),
    (_session(driver="redis", stores={"redis": {"host": 5}}), r"redis.host is int 5"),
    (_session(driver="redis", stores={"redis": {"password": 1234}}), r"redis.password is int"),
    (_session(driver="mongo", stores={"mongo": {"url": 5}}), r"session.stores.mongo.url is int 5"),
    (_session(driver="mongo", stores={"mongo": {"collectionName": ""}}), r"collectionName"),
    (_session(driver="file", stores={"file": {"dirname": ["a"]}}), r"file.dirname is list"),
    (_session(stores=[1]), r"session.stores is list \[1\]; it must be an object"),
    (_session(stores={"memory": [500]}), r"session.stores.memory is list"),
    (_session(stores={"memory": {"maxsize": 5}}), r"Unknown option\(s\) 'maxsize'"),
    ({"initialState": {"when": float("nan")}}, r"initialState cannot be used: .*'when'"),
    ({"initialState": [1]}, r"initialState must be an object"),
    ({"session": []}, r"session must be an object, not list"),
]


@pytest.mark.parametrize(("config", "message"), BROKEN, ids=lambda v: show(v)[:60])
def test_each_broken_config_names_the_path_the_value_and_the_fix(config, message):
    with pytest.raises(ConfigError, match=message) as raised:
        Bot.from_config(action, config)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text", ["[1, 2]", "null", "5", '"memory"'])
def test_a_json_config_that_is_not_an_object_names_the_file(tmp_path, text):
    path = tmp_path / "bottender.config.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"The config in {path} is .*; it must be an object"):
        Bot.from_config(action, path)


@pytest.mark.parametrize("config", [[{"session": {}}], None, 5])
def test_a_config_that_is_neither_a_dict_nor_a_path_says_so(config):
    with pytest.raises(ConfigError, match="pass a dict or the path"):
        Bot.from_config(action, config)


def test_a_deeply_nested_json_config_is_a_config_error(tmp_path):
    path = tmp_path / "bottender.config.json"
    path.write_text('{"initialState":' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="not valid JSON \\(nested too deeply\\)"):
        Bot.from_config(action, path)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("config = {'session': {}}\nraise RuntimeError('no token set')\n",
         r"bottender.config.py, line 2 raised RuntimeError: no token set; fix the config file."),
        ("import os\nconfig = {'session': {'expiresIn': int(os.environ['NOPE_X'])}}\n",
         r"bottender.config.py, line 2 raised KeyError: 'NOPE_X'"),
        ("config = {'session': {\n", r"bottender.config.py, line 1: '\{' was never closed"),
    ],
)
def test_a_python_config_that_fails_is_one_line_naming_file_and_line(tmp_path, source, message):
    path = tmp_path / "bottender.config.py"
    path.write_text(source)
    with pytest.raises(ConfigError, match=message) as raised:
        Bot.from_config(action, path)
    assert "\n" not in str(raised.value)
    assert raised.value.__cause__ is not None  # the user's own error stays chained


def test_good_values_still_build_the_store():
    from bottender_nb import RedisSessionStore

    store = Bot.from_config(action, _session(
        driver="redis", expiresIn=0.5,
        stores={"redis": {"url": "redis://127.0.0.1:6390/2", "prefix": "bot:"}},
    )).session_store
    assert isinstance(store, RedisSessionStore) and store.prefix == "bot:"
    assert store.expires_in == dt.timedelta(seconds=30)
    memory = Bot.from_config(action, _session(expiresIn=dt.timedelta(hours=1),
                                              stores={"memory": {"max_size": 7}})).session_store
    assert (memory.max_size, memory.expires_in) == (7, dt.timedelta(hours=1))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MemorySessionStore(max_size=0), "max_size must be a whole number from 1, got "),
        (lambda: MemorySessionStore(max_size="10"), r"max_size .* got str '10'"),
        (lambda: MemorySessionStore(expires_in=float("nan")), r"float nan; .* e.g. expires_in=30"),
        (lambda: MemorySessionStore(expires_in=1e20), r"expires_in is float 1e\+20"),
        (lambda: MemorySessionStore(expires_in=10**5000), r"is int <an int of 16610 bits>"),
        (lambda: MemorySessionStore(expires_in="30"), r"not str '30'; e.g. expires_in=30"),
        (lambda: FileSessionStore(expires_in=-1), r"expires_in must not be negative"),
    ],
)
def test_store_constructors_refuse_bad_arguments_clearly(make, message):
    with pytest.raises(ConfigError, match=message):
        make()
