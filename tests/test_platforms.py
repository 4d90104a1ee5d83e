"""Session keys, events and simulated bodies of every platform, against real-shaped payloads.

Each ``payloads/<platform>/<kind>.json`` holds a webhook body as the platform sends it and what
Bottender makes of it: ``expected`` (one session id per event, null for none), and optionally
``ignored``, ``error`` (+ ``error_match``), and per-event ``text``, ``payload``, ``fields``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bottender_nb import Bot, MemorySessionStore, errors
from bottender_nb.platforms import PLATFORM_NAMES, Platform, Source, get_platform, split_session_id

PAYLOADS = Path(__file__).parent / "payloads"
CASES = sorted(PAYLOADS.glob("*/*.json"))
# Bodies the platform would never send (e.g. an unknown LINE source type) are only checked to raise.
VALID_CASES = [p for p in CASES if "error" not in json.loads(p.read_text())]


def _load(path: Path) -> tuple[Platform, dict[str, Any]]:
    return get_platform(path.parent.name), json.loads(path.read_text(encoding="utf-8"))


def _session_ids(platform: Platform, body: Mapping[str, Any]) -> list[str | None]:
    keys = [platform.session_key(raw) for raw in platform.split(body)]
    return [platform.session_id(key) for key in keys]


@pytest.mark.parametrize("name", PLATFORM_NAMES)
def test_a_session_id_is_made_and_split_in_one_place(name: str) -> None:
    """``platform:key``, as Bottender files it; a key keeps its own colons (a Slack thread)."""
    platform = get_platform(name)
    assert platform.session_id(None) is None
    for key in ("U1", "C1:1700000000.000100", "a:b:c"):
        made = platform.session_id(key)
        assert made == f"{name}:{key}"
        assert split_session_id(made) == (name, key)
    assert split_session_id(name) == (name, "")


def _per_event(value: Any, count: int) -> list[Any]:
    return value if isinstance(value, list) else [value] * count


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_payload_session_ids(path: Path) -> None:
    platform, case = _load(path)
    if "error" in case:
        error = getattr(errors, case["error"])
        with pytest.raises(error, match=case.get("error_match")):
            _session_ids(platform, case["body"])
        return
    assert _session_ids(platform, case["body"]) == case["expected"]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_payload_ignored_events(path: Path) -> None:
    platform, case = _load(path)
    events = platform.split(case["body"])
    expected = _per_event(case.get("ignored", False), len(events))
    assert [platform.is_ignored(raw) for raw in events] == expected


@pytest.mark.parametrize("path", VALID_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_payload_events_and_session_fields(path: Path) -> None:
    platform, case = _load(path)
    events = platform.split(case["body"])
    assert len(events) == len(case["expected"])
    # Every file states all three, per event: a missing one would be a check that never runs.
    assert [platform.event(raw).text for raw in events] == case["text"]
    assert [platform.event(raw).payload for raw in events] == case["payload"]
    assert [platform.session_fields(raw) for raw in events] == case["fields"]


@pytest.mark.parametrize("path", VALID_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_a_bot_given_the_body_runs_once_per_handled_event_and_files_it(path: Path) -> None:
    """What a bot does with the body: the action runs for each event not ignored, and the
    sessions written are those events' ids (an empty LINE check body runs nothing at all)."""
    platform, case = _load(path)
    ignored = _per_event(case.get("ignored", False), len(case["expected"]))
    handled = [sid for sid, skip in zip(case["expected"], ignored) if not skip]
    seen: list[tuple[str | None, str | None]] = []

    async def action(context: Any) -> None:
        seen.append((None if context.session is None else context.session.id, context.event.text))
        await context.send_text("ok")

    store = MemorySessionStore()
    replies = await Bot(action, session_store=store).handle_request(case["body"], platform.name)
    texts = [t for t, skip in zip(case["text"], ignored) if not skip]
    assert seen == list(zip(handled, texts))
    assert [(str(reply), reply.session_id) for reply in replies] == [("ok", sid) for sid in handled]
    assert sorted(record["id"] for record in await store.all()) == sorted(set(filter(None, handled)))


def test_every_event_kind_of_the_spec_has_a_payload_file() -> None:
    names = {f"{p.parent.name}/{p.stem}" for p in CASES}
    required = {
        "console/text", "console/payload",
        "messenger/message", "messenger/echo", "messenger/postback", "messenger/multi_entry",
        "whatsapp/received", "whatsapp/status_sent",
        "line/user_message", "line/group_message", "line/room_message", "line/multi_event",
        "line/verification", "line/unknown_source_type",
        "slack/interactive_message", "slack/slash_command", "slack/view_submission",
        "slack/reaction_added", "slack/pin_added", "slack/message", "slack/shortcut",
        "slack/view_submission_home_modal", "slack/dnd_updated_user", "slack/bot_message",
        "telegram/message", "telegram/edited_message", "telegram/channel_post",
        "telegram/edited_channel_post", "telegram/inline_query", "telegram/chosen_inline_result",
        "telegram/shipping_query", "telegram/pre_checkout_query", "telegram/callback_query",
        "telegram/callback_query_without_message", "telegram/poll",
        "viber/subscribed", "viber/conversation_started", "viber/unsubscribed", "viber/delivered",
        "viber/seen", "viber/failed", "viber/message", "viber/unknown_event",
    }
    assert required <= names


@pytest.mark.parametrize("path", VALID_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_keys_are_never_empty_or_the_string_none(path: Path) -> None:
    platform, case = _load(path)
    for raw in platform.split(case["body"]):
        key = platform.session_key(raw)
        assert key is None or (isinstance(key, str) and key not in ("", "None"))


def test_line_error_names_the_unknown_source_type() -> None:
    line = get_platform("line")
    raw = {"type": "message", "replyToken": "r", "source": {"type": "square", "squareId": "S1"}}
    with pytest.raises(errors.SessionIdError, match="'square'"):
        line.session_key(raw)


def test_slack_user_id_is_the_last_resort() -> None:
    slack = get_platform("slack")
    assert slack.session_key({"user_id": "U056K0000", "command": "/who"}) == "U056K0000"
    assert slack.session_key({"event": {"type": "message"}}) is None


def test_slack_malformed_payload_names_the_problem() -> None:
    with pytest.raises(errors.BodyError, match="not JSON"):
        get_platform("slack").session_key({"payload": "{not json"})


def test_slack_event_raw_is_the_raw_event_bottender_sees() -> None:
    slack = get_platform("slack")
    _, case = _load(PAYLOADS / "slack" / "interactive_message.json")
    assert slack.event(case["body"]).raw["callback_id"] == "wopr_game"
    _, case = _load(PAYLOADS / "slack" / "message.json")
    assert slack.event(case["body"]).raw == case["body"]["event"]


def test_telegram_numeric_ids_become_strings() -> None:
    telegram = get_platform("telegram")
    body = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": -42, "type": "group"},
                                        "from": {"id": 7, "is_bot": False}, "date": 0, "text": "x"}}
    assert telegram.session_key(body) == "-42"
    assert telegram.session_fields(body) == {"user": {"id": "7"}, "group": {"id": "-42"}}


# --- simulated bodies: what build_body makes must split and key like a real one ---

ids = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"),
    min_size=1, max_size=12,
)


def _expected_key(name: str, source: Source) -> str:
    """The key a simulated message from ``source`` must be filed under on platform ``name``."""
    if name == "whatsapp":
        return source.user if source.user.startswith("whatsapp:") else f"whatsapp:{source.user}"
    if name == "line":
        return source.group or source.room or source.user
    if name == "slack":
        return source.group or f"D{source.user}"
    if name == "telegram":
        return source.group or source.user
    return source.user


def _simulated_key(name: str, source: Source) -> str | None:
    """The session key of a simulated text message from ``source``."""
    platform = get_platform(name)
    return platform.session_key(platform.split(platform.build_body(text="hi", source=source))[0])


@pytest.mark.parametrize("name", PLATFORM_NAMES)
@given(user=ids, group=st.none() | ids, room=st.none() | ids, text=st.text(max_size=40))
def test_build_body_round_trips(
    name: str, user: str, group: str | None, room: str | None, text: str
) -> None:
    platform = get_platform(name)
    source = Source(user=user, group=group, room=room)
    for body in (platform.build_body(text=text, source=source),
                 platform.build_body(payload="PAYLOAD", source=source)):
        json.dumps(body)  # a webhook body is JSON (or, for WhatsApp, string form fields)
        events = platform.split(body)
        assert len(events) == 1
        assert not platform.is_ignored(events[0])
        assert platform.session_key(events[0]) == _expected_key(name, source)
        user_id = _expected_key(name, Source(user=user)) if name == "whatsapp" else user
        assert platform.session_fields(events[0])["user"]["id"] == user_id


@pytest.mark.parametrize("name", PLATFORM_NAMES)
def test_build_body_carries_text_and_payload(name: str) -> None:
    platform = get_platform(name)
    event = platform.event(platform.split(platform.build_body(text="hello"))[0])
    assert (event.text, event.is_text) == ("hello", True)
    event = platform.event(platform.split(platform.build_body(payload="BUY"))[0])
    if name in ("whatsapp", "viber"):
        # No postbacks there: a tapped button arrives as a text message, as Bottender sees it.
        assert (event.text, event.payload) == ("BUY", None)
    else:
        assert (event.text, event.payload) == (None, "BUY")


@pytest.mark.parametrize(
    ("name", "shared"),
    [("line", True), ("slack", True), ("telegram", True), ("messenger", False),
     ("viber", False), ("whatsapp", False), ("console", False)],
)
def test_two_users_in_one_group_share_a_session_only_where_groups_exist(
    name: str, shared: bool
) -> None:
    in_group = {_simulated_key(name, Source(user=u, group="-1001089213")) for u in ("alice", "bob")}
    alone = {_simulated_key(name, Source(user=u)) for u in ("alice", "bob")}
    assert len(in_group) == (1 if shared else 2)
    assert len(alone) == 2


def test_line_room_is_a_session_of_its_own() -> None:
    assert {_simulated_key("line", Source(user=u, room="R1")) for u in ("alice", "bob")} == {"R1"}


def test_line_simulated_reply_token_is_never_the_verification_token() -> None:
    line = get_platform("line")
    for _ in range(50):
        assert not line.is_ignored(line.split(line.build_body(text="hi"))[0])
