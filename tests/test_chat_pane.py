"""The chat pane, headless: set widget values, click, read the transcript and the state panel."""

from __future__ import annotations

import asyncio

import pytest

from bottender_nb import Bot, ChatPane
from bottender_nb.errors import CellError
from bottender_nb.pane.state_view import CHANGED_CLASS

SCRIPT = "<script>window.__pwned = 1</script>"
IMAGE = '<img src=x onerror="window.__pwned=2">'


async def counter(context):
    if context.event.text == "fail":
        context.set_state(count=-1)  # never saved: the action fails after it
        raise ValueError("the bot tripped over 'fail'")
    if context.event.payload is not None:
        await context.send_text(f"Payload: {context.event.payload}")
        return
    count = context.state["count"] + 1
    context.set_state(count=count)
    await context.send_text(f"Count: {count}")


async def echo(context):
    await context.send_text(context.event.text)


@pytest.fixture
def pane() -> ChatPane:
    pane = ChatPane(Bot(counter, initial_state={"count": 0, "name": "Ada"}))
    yield pane
    pane.close()


def html_of(pane: ChatPane) -> str:
    return "".join(block.value for block in pane.transcript_view.blocks)


def type_into(box, text: str) -> None:
    """What the browser sends as the user types: the box's text after each edit."""
    for end in range(1, len(text) + 1):
        box._handle_custom_msg({"event": "edit", "text": text[:end]}, [])


def press_enter(box, text: str) -> None:
    """What the browser sends on Enter: one message carrying the text the box held."""
    box._handle_custom_msg({"event": "submit", "text": text}, [])


def type_and_press_enter(pane: ChatPane, text: str) -> None:
    press_enter(pane.text, text)


def test_enter_in_the_text_box_sends_and_clears_it(pane):
    type_and_press_enter(pane, "Hi")
    type_and_press_enter(pane, "Hi")
    assert pane.transcript == [("You", "Hi"), ("Bot", "Count: 1"), ("You", "Hi"), ("Bot", "Count: 2")]
    assert pane.text.value == ""


def test_typing_without_enter_sends_nothing(pane):
    type_and_press_enter(pane, "   ")  # Enter on blanks sends nothing
    type_into(pane.text, "Half a thought")  # typed, then the user clicks elsewhere
    assert pane.transcript == []
    assert pane.text.value == "Half a thought"  # kept for when they come back


def test_enter_sends_the_text_it_carries_whatever_edits_came_before():
    pane = ChatPane(Bot(echo))
    type_into(pane.text, "H")  # whatever the kernel heard of the typing...
    press_enter(pane.text, "Hi")  # ...Enter carries the whole text the box held
    type_into(pane.text, "Hi")
    press_enter(pane.text, "Hello there")
    assert pane.transcript == [("You", "Hi"), ("Bot", "Hi"),
                               ("You", "Hello there"), ("Bot", "Hello there")]
    assert pane.text.value == ""  # ...and the box is empty after each send


def test_text_left_in_the_box_is_sent_by_enter_when_the_user_comes_back():
    pane = ChatPane(Bot(echo))
    type_into(pane.text, "Half a thought")  # typed, then the user clicked elsewhere
    press_enter(pane.text, "Half a thought")  # back, Enter
    assert pane.transcript == [("You", "Half a thought"), ("Bot", "Half a thought")]
    assert pane.text.value == ""


def test_the_box_carries_the_text_as_typed_not_escaped():
    pane = ChatPane(Bot(echo))
    press_enter(pane.text, "a & b <b>")
    assert pane.transcript == [("You", "a & b <b>"), ("Bot", "a & b <b>")]


def test_the_send_button_sends_what_the_box_holds(pane):
    sent = []
    pane.text.send = sent.append  # what the kernel asks of the browser
    type_into(pane.text, "Hi")  # the edits reach the kernel before the click, in order
    pane.send_button.click()
    pane.send_button.click()  # an empty box sends nothing
    assert pane.transcript == [("You", "Hi"), ("Bot", "Count: 1")]
    assert sent == [{"event": "clear", "text": "Hi"}]  # the browser empties the box


def test_send_is_the_code_twin_and_returns_the_replies(pane):
    assert pane.send("Hi") == ["Count: 1"]
    assert pane.send("   ") == []
    assert pane.session_id == "console:1"
    assert "console:1" in pane.session_label.value


def test_the_state_panel_shows_the_state_and_marks_what_changed(pane):
    assert pane.state_view.values == {"count": 0, "name": "Ada"}
    assert pane.state_view.changed == set()
    pane.send("Hi")
    assert pane.state_view.values == {"count": 1, "name": "Ada"}
    assert pane.state_view.changed == {"count"}
    assert CHANGED_CLASS in pane.state_view.rows["count"]._dom_classes
    assert CHANGED_CLASS not in pane.state_view.rows["name"]._dom_classes


def test_only_changed_keys_are_rendered_again(pane):
    pane.send("Hi")
    rows = dict(pane.state_view.rows)
    updates = {key: [] for key in rows}
    for key, row in rows.items():
        row.observe(lambda change, key=key: updates[key].append(change["new"]), names="value")
    pane.send("Hi")
    pane.send("Hi")
    assert pane.state_view.rows == rows  # the same widgets, not new ones
    assert len(updates["count"]) == 2 and "3" in updates["count"][-1]
    assert updates["name"] == []


def test_a_change_mark_moves_to_the_keys_the_last_event_changed():
    async def rename(context):
        context.set_state(name=context.event.text)
        await context.send_text("ok")

    bot = Bot(counter, initial_state={"count": 0, "name": "Ada"})
    pane = ChatPane(bot)
    pane.send("Hi")
    bot.action = rename
    pane.send("Grace")
    assert pane.state_view.changed == {"name"}
    assert CHANGED_CLASS not in pane.state_view.rows["count"]._dom_classes
    assert CHANGED_CLASS in pane.state_view.rows["name"]._dom_classes


@pytest.mark.parametrize("text", [SCRIPT, IMAGE, "a & b <b>bold</b>"])
def test_messages_and_replies_are_text_never_html(text):
    pane = ChatPane(Bot(echo))
    assert pane.send(text) == [text]
    assert pane.transcript == [("You", text), ("Bot", text)]
    shown = html_of(pane)
    assert "<script" not in shown and "<img" not in shown and "<b>" not in shown
    assert shown.count("&lt;") == 2 * text.count("<")


def test_state_values_are_escaped_in_the_panel():
    async def store_text(context):
        context.set_state(last=context.event.text)

    pane = ChatPane(Bot(store_text))
    pane.send(IMAGE)
    shown = pane.state_view.rows["last"].value
    assert "<img" not in shown and "&lt;img" in shown


def test_an_error_shows_as_a_bubble_and_the_session_keeps_its_state(pane):
    pane.send("Hi")
    assert pane.send("fail") == []
    assert pane.transcript[-1] == ("Error", "ValueError: the bot tripped over 'fail'")
    assert "bnb-error" in html_of(pane)
    assert pane.state_view.values["count"] == 1
    assert pane.send("/state") == ['{\n  "count": 1,\n  "name": "Ada"\n}']
    assert pane.send("Hi") == ["Count: 2"]


def test_slash_commands(pane):
    pane.send("Hi")
    assert pane.send("/payload GO") == ["Payload: GO"]
    (session,) = pane.send("/session")
    assert '"id": "console:1"' in session and '"count": 1' in session
    pane.send("/reset")
    assert pane.state_view.values == {"count": 0, "name": "Ada"}
    assert pane.state_view.changed == {"count"}
    assert pane.send("Hi") == ["Count: 1"]
    pane.send("/exit")
    assert pane.transcript[-1][0] == "Note"


def test_redefining_the_action_reaches_an_open_pane(pane):
    async def shout(context):
        await context.send_text(context.event.text.upper())

    pane.send("Hi")
    pane.bot.action = shout  # what %%action does to the notebook's bot
    assert pane.send("hi") == ["HI"]


def test_a_line_group_shares_one_session_and_private_chats_do_not():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}), platform="line", user="U1")
    pane.switch(group="G1")
    assert pane.session_id == "line:G1"
    assert pane.send("Hi") == ["Count: 1"]
    pane.switch(user="U2")  # still in the group
    assert pane.send("Hi") == ["Count: 2"]
    assert pane.transcript[-2] == ("User U2", "Hi")
    pane.switch(user="U1", group=None)
    assert pane.session_id == "line:U1"
    assert pane.state_view.values == {"count": 0}
    assert pane.send("Hi") == ["Count: 1"]
    pane.switch(user="U2", group=None)
    assert pane.send("Hi") == ["Count: 1"]
    pane.switch(group="G1")
    assert pane.state_view.values == {"count": 2}


def test_the_selector_widgets_switch_user_group_and_room():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}), platform="line", user="U1")
    boxes = pane.picker.new_ids
    assert [boxes[kind].widget.placeholder for kind in boxes] == [
        "new user id", "new group id", "new room id"]
    type_into(boxes["user"].widget, "U9")
    pane.picker.add_buttons["user"].click()
    assert pane.picker.user.value == "U9" and pane.session_id == "line:U9"
    press_enter(boxes["room"].widget, "R1")  # Enter in a box adds too
    assert pane.session_id == "line:R1" and boxes["room"].widget.value == ""
    press_enter(boxes["group"].widget, "G1")
    assert pane.session_id == "line:G1"
    pane.picker.chat.value = ""  # "private chat" in the dropdown
    pane.picker.user.value = "U1"
    assert pane.session_id == "line:U1"
    assert "line:U1" in pane.session_label.value


def test_console_has_no_groups():
    pane = ChatPane(Bot(echo))
    assert list(pane.picker.new_ids) == ["user"]
    with pytest.raises(CellError, match="The console platform has no groups"):
        pane.switch(group="G1")
    with pytest.raises(CellError, match="one group or one room"):
        ChatPane(Bot(echo), platform="line", group="G1", room="R1")


def test_the_user_picker_lists_the_users_who_spoke_elsewhere():
    pane = ChatPane(Bot(counter, initial_state={"count": 0}), platform="line", user="U1")
    pane.bot.say("Hi", platform="line", user="U7")  # e.g. %say Hi --platform line --user U7
    pane.bot.say("Hi", platform="line", user="U8", group="G1")
    pane.bot.say("Hi", platform="console", user="C1")  # another platform: not this pane's users
    assert [value for _label, value in pane.picker.user.options] == ["U1", "U7", "U8"]
    assert pane.picker.user.value == "U1" and pane.session_id == "line:U1"
    pane.picker.user.value = "U7"
    assert pane.state_view.values == {"count": 1}


def test_the_user_picker_lists_the_users_who_spoke_before_the_pane_opened():
    bot = Bot(counter, initial_state={"count": 0})
    bot.say("Hi", platform="line", user="U3")
    bot.say("Hi", platform="console", user="C1")
    pane = ChatPane(bot, platform="line", user="U1")
    assert [value for _label, value in pane.picker.user.options] == ["U1", "U3"]
    assert pane.picker.user.value == "U1"


def test_state_and_the_panel_agree_before_the_first_event(pane):
    assert pane.send("/state") == ['{\n  "count": 0,\n  "name": "Ada"\n}']
    assert pane.state_view.values == {"count": 0, "name": "Ada"}


def test_a_closed_pane_stops_following_its_bot():
    bot = Bot(counter, initial_state={"count": 0})
    listening = list(bot._listeners)
    panes = [ChatPane(bot) for _ in range(20)]
    for closed in panes:
        closed.close()
    bot.say("Hi")
    assert all(closed.state_view.values == {"count": 0} for closed in panes)
    assert bot._listeners == listening  # nothing left behind per pane opened and closed


def test_session_fields_read_as_in_bottender():
    async def greet(context):
        user, group = context.session.user, context.session.group
        if context.event.text == "nickname?":
            await context.send_text(user.nickname)  # a typo of the user's: no such field
        await context.send_text(f"{user.id}={user['id']} in {group.id}, room {context.session.room}")

    pane = ChatPane(Bot(greet), platform="line", user="U1", group="G1")
    assert pane.send("Hi") == ["U1=U1 in G1, room None"]
    assert pane.send("nickname?") == []
    assert pane.transcript[-1] == (
        "Error", "AttributeError: context.session.user has no field 'nickname'; its fields are: id"
    )


def test_events_sent_elsewhere_update_the_panel_live(pane):
    pane.bot.say("Hi")  # e.g. %say in another cell
    assert pane.state_view.values["count"] == 1
    pane.bot.say("Hi", user="2")  # another session: this pane's panel stays
    assert pane.state_view.values["count"] == 1


def test_appending_does_not_render_earlier_blocks_again():
    pane = ChatPane(Bot(echo))
    for number in range(40):
        pane.send(f"m{number}")
    first = pane.transcript_view.blocks[0]
    renders = []
    first.observe(renders.append, names="value")
    for number in range(40):
        pane.send(f"n{number}")
    assert renders == []
    assert len(pane.transcript) == 160
    assert all(len(block.value) < 25 * 400 for block in pane.transcript_view.blocks)


def test_the_pane_displays_as_a_widget(pane):
    bundle = pane._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "text/plain" not in bundle  # where no widget draws, the saved copy speaks alone
    assert repr(pane) == "ChatPane(platform='console', session='console:1')"


def test_messages_sent_elsewhere_join_the_transcript(pane):
    pane.send("Hi")
    pane.bot.say("Hi")  # e.g. %say in a later cell, to the pane's session
    pane.bot.say("Hi", user="2")  # another session: not this pane's chat
    assert pane.transcript == [("You", "Hi"), ("Bot", "Count: 1"), ("You", "Hi"), ("Bot", "Count: 2")]


def test_the_saved_copy_holds_the_chat_and_the_state_as_escaped_html(pane):
    pane.send(SCRIPT)
    pane.bot.say(IMAGE)
    saved = pane.to_html()
    for text in (SCRIPT, IMAGE):
        assert text not in saved
    assert saved.count("&lt;script&gt;window.__pwned = 1&lt;/script&gt;") == 2  # chat, timeline
    assert saved.count("&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;") == 1
    assert "Count: 2" in saved and "<b>count</b>: 2" in saved and "console:1" in saved
