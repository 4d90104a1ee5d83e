"""``Platform.event_id``: the id a platform repeats when it redelivers an event, read from the
raw events that ``split`` hands the runner, on the payload files of ``payloads/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bottender_nb.platforms import get_platform

PAYLOADS = Path(__file__).parent / "payloads"

# payload file -> the event id of each event its body splits into, read off the file by hand.
EXPECTED = {
    "line/user_message": ["01FZ74A0TDDPYRVKNK77XKC3ZR"],
    "line/postback": ["01FZ74A0TDDPYRVKNK77XKC3ZT"],
    "line/multi_event": ["01FZ74A0TDDPYRVKNK77XKC3ZR"] * 3,
    "messenger/multi_entry": ["m_first_0001", "m_second_0002"],
    "messenger/postback": ["m_postback_0001"],
    "messenger/delivery": [None],
    "slack/message": ["Ev6BEYTAK0"],  # at the envelope's top level, not inside ``event``
    "slack/block_actions_channel": [None],
    "slack/slash_command": [None],
    "telegram/callback_query": ["141921699"],
    "viber/message": ["4912661846655238145"],
    "viber/seen": ["4912661846655238145:seen"],
    "whatsapp/received": ["SM7cd85aed706d25735d1c8019234572df"],
    "whatsapp/status_read": ["SM338ac551ecd04d698821b50ea5dXXXXX:read"],
    "console/text": [None],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_ids_of_payload_files(name: str) -> None:
    platform = get_platform(name.split("/")[0])
    body = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))["body"]
    assert [platform.event_id(raw) for raw in platform.split(body)] == EXPECTED[name]


@pytest.mark.parametrize("platform", ["line", "messenger", "slack", "telegram", "viber",
                                      "whatsapp"])
def test_two_simulated_messages_have_different_event_ids(platform: str) -> None:
    handler = get_platform(platform)
    ids = [handler.event_id(handler.split(handler.build_body(text="hi"))[0]) for _ in range(2)]
    assert None not in ids and ids[0] != ids[1]


def test_whatsapp_statuses_of_one_message_are_events_of_their_own() -> None:
    handler = get_platform("whatsapp")
    sent = {"MessageSid": "SM1", "SmsStatus": "sent", "MessageStatus": "sent", "To": "whatsapp:+1"}
    delivered = {**sent, "SmsStatus": "delivered", "MessageStatus": "delivered"}
    assert handler.event_id(sent) != handler.event_id(delivered)


@pytest.mark.parametrize("value", [True, 1.5, {"id": 1}, [1], ""])
def test_an_event_id_of_the_wrong_type_is_none_not_an_error(value: object) -> None:
    assert get_platform("telegram").event_id({"update_id": value}) is None
