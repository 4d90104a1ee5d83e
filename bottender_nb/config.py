"""Bottender-shaped configuration -> the options of a :class:`~bottender_nb.Bot`.

Accepts what a Bottender user already has::

    {"initialState": {...},
     "session": {"driver": "file", "expiresIn": 30,
                 "stores": {"memory": {"maxSize": 500}, "file": {"dirname": ".sessions"},
                            "redis": {"port": 6379, "host": "127.0.0.1", "password": None, "db": 0},
                            "mongo": {"url": "mongodb://localhost:27017", "collectionName": "sessions"}}}}

from a dict, a ``bottender.config.json``, or a ``bottender.config.py`` that defines ``config``.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .stores.base import SessionStore

CONFIG_FILE_NAMES = ("bottender.config.json", "bottender.config.py")

# Bottender's camelCase option -> our keyword argument, per driver.
_STORE_OPTIONS: dict[str, dict[str, str]] = {
    "memory": {"maxSize": "max_size"},
    "file": {"dirname": "dirname"},
    "redis": {"host": "host", "port": "port", "password": "password", "db": "db", "url": "url",
              "prefix": "prefix"},
    "mongo": {"url": "url", "collectionName": "collection_name"},
}


def load_config(config: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    """The config as a mapping, read from a ``.json`` or ``.py`` file when given a path."""
    if isinstance(config, Mapping):
        return config
    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"No config file at {str(path)!r}; pass a dict or an existing file path.")
    if path.suffix == ".json":
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}).") from exc
    elif path.suffix == ".py":
        namespace = runpy.run_path(str(path))
        if "config" not in namespace:
            raise ConfigError(f"{path} must define a variable named `config` (a dict).")
        loaded = namespace["config"]
    else:
        raise ConfigError(f"{path}: a config file must end in .json or .py.")
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"The config in {path} must be a dict, not {type(loaded).__name__}.")
    return loaded


def find_config(directory: str | Path = ".") -> Path | None:
    """The ``bottender.config.json`` or ``.py`` in ``directory``, if there is one."""
    for name in CONFIG_FILE_NAMES:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def bot_options(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """``initial_state`` and ``session_store`` keyword arguments for ``Bot``."""
    loaded = load_config(config)
    initial_state = loaded.get("initialState", loaded.get("initial_state")) or {}
    if not isinstance(initial_state, Mapping):
        raise ConfigError(f"initialState must be an object, not {initial_state!r:.60}.")
    return {"initial_state": initial_state, "session_store": session_store(loaded.get("session"))}


def session_store(session: Mapping[str, Any] | None) -> SessionStore:
    """The store that a config's ``session`` section describes (memory when absent)."""
    session = session or {}
    if not isinstance(session, Mapping):
        raise ConfigError(f"session must be an object, not {session!r:.60}.")
    driver = session.get("driver", "memory")
    stores = session.get("stores") or {}
    options = stores.get(driver) if isinstance(stores, Mapping) else None
    if isinstance(options, SessionStore):
        return options
    if driver not in _STORE_OPTIONS:
        raise ConfigError(
            f"Unknown session driver {driver!r}; use one of {', '.join(_STORE_OPTIONS)} "
            "or put a SessionStore instance under session.stores.<driver>."
        )
    kwargs = _store_kwargs(driver, options or {})
    expires_in = session.get("expiresIn", session.get("expires_in"))
    if expires_in is not None:
        kwargs["expires_in"] = expires_in
    from . import stores as store_module

    store_class = getattr(store_module, f"{driver.capitalize()}SessionStore")
    try:
        return store_class(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"session.stores.{driver} does not fit {store_class.__name__}: {exc}") from exc


def _store_kwargs(driver: str, options: Mapping[str, Any]) -> dict[str, Any]:
    known = _STORE_OPTIONS[driver]
    unknown = sorted(set(options) - set(known) - set(known.values()))
    if unknown:
        raise ConfigError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} in session.stores.{driver}; "
            f"known: {', '.join(known)}."
        )
    return {known.get(name, name): value for name, value in options.items() if value is not None}
