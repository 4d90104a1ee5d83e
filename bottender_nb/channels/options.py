"""A config's ``channels`` section, checked: Bottender's names per platform, plus ``path``,
``apiBase`` and ``enabled``. Only enabled channels are checked and served, so a Bottender
config listing every platform with ``enabled: false`` and unset secrets still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rules import Rule
from ..errors import ConfigError, show

_TEXT = Rule(lambda v: isinstance(v, str) and v != "", "a non-empty string", '"..."')
_SENDER = Rule(lambda v: isinstance(v, Mapping) and isinstance(v.get("name"), str)
               and v["name"] != "", "an object with the sender's name", '{"name": "My bot"}')
_PATH = Rule(lambda v: isinstance(v, str) and v.startswith("/"), "a path starting with /",
             '"/webhooks/line"')
_URL = Rule(lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
            "an http:// or https:// URL", '"http://127.0.0.1:8080"')
_ENABLED = Rule(lambda v: isinstance(v, bool), "true or false", "true")
# Shown in no error message: a wrong-typed secret is named by its type only.
SECRET_OPTIONS = frozenset({"channelSecret", "accessToken", "appSecret", "verifyToken",
                            "signingSecret", "secretToken", "authToken"})
COMMON = {"enabled": _ENABLED, "path": _PATH, "apiBase": _URL}

# platform -> {option: (rule, required)}, Bottender's names.
OPTIONS: dict[str, dict[str, tuple[Rule, bool]]] = {
    "line": {"channelSecret": (_TEXT, True), "accessToken": (_TEXT, True)},
    "messenger": {"appSecret": (_TEXT, True), "accessToken": (_TEXT, True),
                  "verifyToken": (_TEXT, True), "pageId": (_TEXT, False), "appId": (_TEXT, False)},
    "slack": {"signingSecret": (_TEXT, True), "accessToken": (_TEXT, True)},
    "telegram": {"accessToken": (_TEXT, True), "secretToken": (_TEXT, False)},
    "viber": {"accessToken": (_TEXT, True), "sender": (_SENDER, True)},
    "whatsapp": {"accountSid": (_TEXT, True), "authToken": (_TEXT, True),
                 "phoneNumber": (_TEXT, True)},
}


def check_channels(channels: Any) -> dict[str, dict[str, Any]]:
    """The options of each enabled channel, every field checked; a ConfigError naming one."""
    if channels is None:
        return {}
    if not isinstance(channels, Mapping):
        raise ConfigError(f"channels is {show(channels)}; it must be an object of channels, "
                          'e.g. "channels": {"line": {"channelSecret": ..., "accessToken": ...}}.')
    checked = {}
    for name, options in channels.items():
        if name not in OPTIONS:
            raise ConfigError(f"Unknown channel {name!r:.40} in channels; use one of "
                              f"{', '.join(OPTIONS)}.")
        if not isinstance(options, Mapping):
            raise ConfigError(f"channels.{name} is {show(options)}; it must be an object of "
                              f"options: {', '.join(OPTIONS[name])}.")
        if options.get("enabled", True) is not False:
            checked[name] = _check_channel(name, options)
    return checked


def _check_channel(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    known = {**{k: (rule, False) for k, rule in COMMON.items()}, **OPTIONS[name]}
    unknown = sorted(map(str, set(options) - set(known)))
    if unknown:
        raise ConfigError(f"Unknown option(s) {', '.join(map(repr, unknown))} in "
                          f"channels.{name}; known: {', '.join(known)}.")
    checked = {}
    for option, (rule, required) in known.items():
        value = options.get(option)
        if value is None and required:
            raise ConfigError(f"channels.{name}.{option} is missing; it must be "
                              f"{rule.must_be}, e.g. {option}: {rule.example}.")
        if value is not None and option in SECRET_OPTIONS and not rule.fits(value):
            raise ConfigError(f"channels.{name}.{option} is a {type(value).__name__}; it must "
                              f"be {rule.must_be}, e.g. {option}: {rule.example}.")
        if value is not None:
            checked[option] = rule.check(f"channels.{name}.{option}", value)
    return checked
