"""Bottender-shaped configuration -> the options of a :class:`~bottender_nb.Bot`.

Accepts what a Bottender user already has::

    {"initialState": {...},
     "session": {"driver": "file", "expiresIn": 30,
                 "stores": {"memory": {"maxSize": 500}, "file": {"dirname": ".sessions"},
                            "redis": {"port": 6379, "host": "127.0.0.1", "password": None, "db": 0},
                            "mongo": {"url": "mongodb://localhost:27017", "collectionName": "sessions"}}}}

from a dict, a ``bottender.config.json``, or a ``bottender.config.py`` that defines ``config``.
Every value is checked here, against the table of :class:`Rule` below, before a store is built:
a value that does not fit is a :class:`~bottender_nb.errors.ConfigError` naming its path
(``session.stores.redis.port``), the value, and what to write instead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import runpy
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import BottenderNbError, ConfigError, show
from .rules import Rule
from .stores.base import SessionStore

CONFIG_FILE_NAMES = ("bottender.config.json", "bottender.config.py")


def _int_from(low: int, high: int | None = None) -> Callable[[Any], bool]:
    return lambda v: type(v) is int and v >= low and (high is None or v <= high)


def _text(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _url(schemes: tuple[str, ...]) -> Callable[[Any], bool]:
    def fits(v: Any) -> bool:
        try:  # urlsplit(...).port raises ValueError for a port that is not a number or too big
            return isinstance(v, str) and v.startswith(schemes) and (urlsplit(v).port or 1) > 0
        except ValueError:
            return False
    return fits


_MAX_MINUTES = dt.timedelta.max.total_seconds() / 60  # beyond this no timedelta holds it


def _minutes(v: Any) -> bool:
    if isinstance(v, dt.timedelta):
        return v >= dt.timedelta(0)
    number = isinstance(v, (int, float)) and not isinstance(v, bool)
    return number and 0 <= v < _MAX_MINUTES  # NaN compares False; a huge int compares fine


EXPIRES_IN = Rule(_minutes, "minutes after the last activity, a number from 0 (never expires)",
                  "30")
# Bottender's camelCase option -> (our keyword argument, its rule), per driver.
_STORE_OPTIONS: dict[str, dict[str, tuple[str, Rule]]] = {
    "memory": {"maxSize": ("max_size", Rule(_int_from(1), "a whole number from 1", "500"))},
    "file": {"dirname": ("dirname", Rule(lambda v: _text(v) or isinstance(v, os.PathLike),
                                         "a directory name", '".sessions"'))},
    "redis": {
        "host": ("host", Rule(_text, "a host name or address", '"127.0.0.1"')),
        "port": ("port", Rule(_int_from(1, 65535), "a port number from 1 to 65535", "6379")),
        "password": ("password", Rule(lambda v: isinstance(v, str), "a string or null",
                                      '"secret"')),
        "db": ("db", Rule(_int_from(0), "a database number from 0", "0")),
        "url": ("url", Rule(_url(("redis://", "rediss://", "unix://")),
                            "a redis://, rediss:// or unix:// URL", '"redis://localhost:6379/0"')),
        "prefix": ("prefix", Rule(lambda v: isinstance(v, str), "a string", '"bot:"')),
    },
    "mongo": {
        "url": ("url", Rule(_url(("mongodb://", "mongodb+srv://")),
                            "a mongodb:// or mongodb+srv:// URL", '"mongodb://localhost:27017"')),
        "collectionName": ("collection_name", Rule(_text, "a collection name", '"sessions"')),
    },
}


def load_config(config: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    """The config as a mapping, read from a ``.json`` or ``.py`` file when given a path."""
    if isinstance(config, Mapping):
        return config
    if not isinstance(config, (str, os.PathLike)):
        raise ConfigError(f"The config is {show(config)}; pass a dict or the path of a "
                          "bottender.config.json or .py file.")
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"No config file at {str(path)!r}; pass a dict or an existing file path.")
    if path.suffix == ".json":
        loaded = _read_json(path)
    elif path.suffix == ".py":
        loaded = _run_python(path)
    else:
        raise ConfigError(f"{path}: a config file must end in .json or .py.")
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"The config in {path} is {show(loaded)}; it must be an object (a dict) "
                          'such as {"session": {"driver": "memory"}}.')
    return loaded


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ConfigError(f"{path} is not valid JSON ({reason}); fix the file.") from exc
    except OSError as exc:
        raise ConfigError(
            f"{path} cannot be read ({exc.strerror}); check its permissions."
        ) from exc


def _run_python(path: Path) -> Any:
    """The ``config`` a ``.py`` file defines; its own error is one line naming file and line."""
    try:
        namespace = runpy.run_path(str(path))
    except SyntaxError as exc:
        raise ConfigError(f"{path}, line {exc.lineno}: {exc.msg}; fix the config file.") from exc
    except BottenderNbError:
        raise
    except Exception as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = f", line {frames[-1].lineno}" if frames else ""
        raise ConfigError(f"{path}{line} raised {type(exc).__name__}: {exc}; "
                          "fix the config file.".replace("\n", " ")) from exc
    if "config" not in namespace:
        raise ConfigError(f"{path} must define a variable named `config` (a dict).")
    return namespace["config"]


def find_config(directory: str | Path = ".") -> Path | None:
    """The ``bottender.config.json`` or ``.py`` in ``directory``, if there is one."""
    for name in CONFIG_FILE_NAMES:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def bot_options(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """``initial_state``, ``session_store`` and ``channels`` keyword arguments for ``Bot``
each checked."""
    from .channels.options import check_channels
    from .json_values import check_json_state

    loaded = load_config(config)
    initial_state = loaded.get("initialState", loaded.get("initial_state")) or {}
    if not isinstance(initial_state, Mapping):
        raise ConfigError(f"initialState must be an object, not {show(initial_state)}; "
                          'e.g. "initialState": {"count": 0}.')
    try:
        check_json_state(initial_state)
    except BottenderNbError as exc:
        reason = str(exc).removesuffix(" The session keeps its previous state.")
        raise ConfigError(f"initialState cannot be used: {reason}") from exc
    channels = check_channels(loaded.get("channels"))  # before a store is opened
    return {"initial_state": initial_state, "session_store": session_store(loaded.get("session")),
            "channels": channels}


def session_store(session: Mapping[str, Any] | None) -> SessionStore:
    """The store that a config's ``session`` section describes (memory when absent)."""
    session = {} if session is None else session
    if not isinstance(session, Mapping):
        raise ConfigError(f"session must be an object, not {show(session)}; "
                          'e.g. "session": {"driver": "memory"}.')
    driver = session.get("driver", "memory")
    stores = session.get("stores")
    stores = {} if stores is None else stores
    if not isinstance(stores, Mapping):
        raise ConfigError(f"session.stores is {show(stores)}; it must be an object of options "
                          'per driver, e.g. "stores": {"memory": {"maxSize": 500}}.')
    if not isinstance(driver, str) or driver not in _STORE_OPTIONS:
        if isinstance(driver, str) and isinstance(stores.get(driver), SessionStore):
            return stores[driver]
        shown = f"{driver!r:.60}" if isinstance(driver, str) else show(driver)
        raise ConfigError(
            f"Unknown session driver {shown}; use one of {', '.join(_STORE_OPTIONS)} "
            "or put a SessionStore instance under session.stores.<driver>."
        )
    options = stores.get(driver)
    if isinstance(options, SessionStore):
        return options
    kwargs = _store_kwargs(driver, options)
    expires_in = session.get("expiresIn", session.get("expires_in"))
    if expires_in is not None:
        name = "expiresIn" if "expiresIn" in session else "expires_in"
        kwargs["expires_in"] = EXPIRES_IN.check(f"session.{name}", expires_in)
    from . import stores as store_module

    store_class = getattr(store_module, f"{driver.capitalize()}SessionStore")
    try:
        return store_class(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, BottenderNbError):
            raise
        raise ConfigError(f"session.stores.{driver} does not fit {store_class.__name__}: "
                          f"{exc}".replace("\n", " ")) from exc


def _store_kwargs(driver: str, options: Any) -> dict[str, Any]:
    """The store's keyword arguments from ``session.stores.<driver>``, each option checked."""
    where = f"session.stores.{driver}"
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigError(f"{where} is {show(options)}; it must be an object of options, "
                          f"known: {', '.join(_STORE_OPTIONS[driver])}.")
    known = _STORE_OPTIONS[driver]
    by_name = {**{kwarg: (name, rule) for name, (kwarg, rule) in known.items()},
               **{name: (name, rule) for name, (_, rule) in known.items()}}
    unknown = sorted(map(str, set(options) - set(by_name)))
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} in {where}; "
            f"known: {', '.join(known)}."
        )
    kwargs: dict[str, Any] = {}
    for name, value in options.items():
        if value is not None:
            camel, rule = by_name[name]
            kwargs[known[camel][0]] = rule.check(f"{where}.{name}", value)
    return kwargs
