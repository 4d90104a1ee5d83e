"""Console mode, driven through a pseudo-terminal as a user would drive it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pexpect
import pytest

BOT_SOURCE = textwrap.dedent(
    """
    async def App(context):
        if context.event.payload:
            await context.send_text(f"Payload: {context.event.payload}")
            return
        count = context.state["count"] + 1
        context.set_state({"count": count})
        await context.send_text(f"Count: {count}")

    async def Echo(context):
        await context.send_text(f"echo {context.event.text}")

    config = {"initialState": {"count": 0}}
    """
)


@pytest.fixture
def bot_dir(tmp_path):
    (tmp_path / "bot.py").write_text(BOT_SOURCE)
    return tmp_path


def spawn(args: list[str], cwd) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "bottender_nb", *args], cwd=str(cwd), encoding="utf-8", timeout=20,
        dimensions=(50, 200),
    )
    child.expect_exact("You > ")
    return child


def say(child: pexpect.spawn, line: str) -> str:
    """Type a line; everything the console printed before the next prompt."""
    child.sendline(line)
    child.expect_exact("You > ")
    return child.before.replace("\r\n", "\n").split("\n", 1)[1]


def test_a_user_chats_inspects_state_and_exits(bot_dir):
    child = spawn(["console", "bot.py"], bot_dir)
    assert say(child, "Hi").strip() == "Bot > Count: 1"
    assert say(child, "Hi").strip() == "Bot > Count: 2"
    state = say(child, "/state").strip()
    assert state == 'Bot > {\n  "count": 2\n}'
    session = json.loads(say(child, "/session").strip().removeprefix("Bot > "))
    assert session["id"] == "console:1" and session["_state"] == {"count": 2}
    assert isinstance(session["lastActivity"], int)
    assert say(child, "/payload GET_STARTED").strip() == "Bot > Payload: GET_STARTED"
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_quit_and_end_of_input_also_leave(bot_dir):
    child = spawn(["console", "bot.py"], bot_dir)
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    child = spawn(["console", "bot.py"], bot_dir)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_named_action_is_used(bot_dir):
    child = spawn(["console", "bot.py:Echo"], bot_dir)
    assert say(child, "ping").strip() == "Bot > echo ping"
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_the_installed_command_uses_a_bottender_config_in_the_working_directory(tmp_path):
    (tmp_path / "bot.py").write_text(BOT_SOURCE.replace('config = {"initialState": {"count": 0}}', ""))
    (tmp_path / "bottender.config.json").write_text(json.dumps({
        "initialState": {"count": 100},
        "session": {"driver": "file", "stores": {"file": {"dirname": "store"}}},
    }))
    child = pexpect.spawn("bottender-nb", ["console", "bot.py"], cwd=str(tmp_path),
                          encoding="utf-8", timeout=20)
    child.expect_exact("You > ")
    assert say(child, "Hi").strip() == "Bot > Count: 101"
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    stored = json.loads((tmp_path / "store" / "console:1.json").read_text())
    assert stored["_state"] == {"count": 101}


TOUR_BOT = textwrap.dedent(
    """
    from bottender_nb import Bot, FileSessionStore

    async def App(context):
        count = context.state["count"] + 1
        context.set_state({"count": count})
        await context.send_text(f"Count: {count}")

    bot = Bot(App, initial_state={"count": 0}, session_store=FileSessionStore(".sessions"))
    """
)


def test_a_module_level_bot_is_used_as_it_is(tmp_path):
    """The README tour's bot.py: its Bot's action, initial state and file store, not a new Bot."""
    (tmp_path / "bot.py").write_text(TOUR_BOT)
    child = spawn(["console", "bot.py"], tmp_path)
    assert say(child, "Hi").strip() == "Bot > Count: 1"
    assert say(child, "/state").strip() == 'Bot > {\n  "count": 1\n}'
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    stored = json.loads((tmp_path / ".sessions" / "console:1.json").read_text())
    assert stored["_state"] == {"count": 1}
    child = spawn(["console", "bot.py"], tmp_path)  # the store outlives the process
    assert say(child, "Hi").strip() == "Bot > Count: 2"
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_two_module_level_bots_need_a_name_and_help_states_the_rule(tmp_path):
    (tmp_path / "bot.py").write_text(TOUR_BOT + "other = Bot(App, initial_state={'count': 10})\n")
    output, status = pexpect.run(f"{sys.executable} -m bottender_nb console bot.py",
                                 cwd=str(tmp_path), withexitstatus=True, encoding="utf-8")
    assert status == 2 and "defines 2 Bots (bot, other); name the one" in output, output
    child = spawn(["console", "bot.py:other"], tmp_path)
    assert say(child, "Hi").strip() == "Bot > Count: 11"
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    shown, _ = pexpect.run(f"{sys.executable} -m bottender_nb console --help",
                           withexitstatus=True, encoding="utf-8", dimensions=(50, 200))
    assert "module-level Bot" in " ".join(shown.split()), shown


def test_an_error_in_the_action_is_shown_and_the_console_goes_on(tmp_path):
    (tmp_path / "bot.py").write_text(textwrap.dedent(
        """
        async def App(context):
            if context.event.text == "boom":
                raise ValueError("the action failed")
            await context.send_text("fine")
        """
    ))
    child = spawn(["console", "bot.py"], tmp_path)
    assert "ValueError: the action failed" in say(child, "boom")
    assert say(child, "hello").strip() == "Bot > fine"
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_a_bad_bot_spec_is_one_clear_line(tmp_path):
    output, status = pexpect.run(
        f"{sys.executable} -m bottender_nb console missing.py", cwd=str(tmp_path),
        withexitstatus=True, encoding="utf-8",
    )
    assert status == 2
    assert "No bot file at 'missing.py'" in output
    (tmp_path / "notes.txt").write_text("hello")
    output, status = pexpect.run(
        f"{sys.executable} -m bottender_nb console notes.txt", cwd=str(tmp_path),
        withexitstatus=True, encoding="utf-8",
    )
    assert status == 2 and "give a Python file" in output
    assert "Traceback" not in output


def test_piped_input_reads_like_a_transcript(bot_dir):
    result = subprocess.run(
        [sys.executable, "-m", "bottender_nb", "console", "bot.py"], cwd=bot_dir,
        input="Hi\nHi\n/state\n/exit\n", capture_output=True, text=True, timeout=30, check=True,
    )
    assert result.stdout.splitlines()[1:] == [
        "You > Hi", "Bot > Count: 1", "You > Hi", "Bot > Count: 2", "You > /state",
        "Bot > {", '  "count": 2', "}", "You > /exit",
    ]


SLOW_BOT = textwrap.dedent(
    """
    import asyncio
    import time

    async def App(context):
        if context.event.text in ("wait", "block"):
            print("action running", flush=True)  # the test interrupts only after this
        if context.event.text == "wait":
            await asyncio.sleep(60)  # the loop waits (e.g. on the network)
        if context.event.text == "block":
            time.sleep(60)  # the action itself blocks (e.g. a synchronous SDK call)
        context.set_state({"count": context.state.get("count", 0) + 1})
        await context.send_text(f"Count: {context.state['count']}")

    config = {"session": {"driver": "file", "stores": {"file": {"dirname": "store"}}}}
    """
)


def ended_quietly(child: pexpect.spawn) -> str:
    """What the console printed until it ended; it must have ended with Ctrl-C's status."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    return child.before


def test_ctrl_c_at_the_prompt_ends_the_console_without_a_traceback(bot_dir):
    child = spawn(["console", "bot.py"], bot_dir)
    assert say(child, "Hi").strip() == "Bot > Count: 1"
    child.sendintr()
    assert "Traceback" not in ended_quietly(child)


@pytest.mark.parametrize("text", ["wait", "block"])
def test_ctrl_c_during_an_action_ends_cleanly_and_leaves_the_session_usable(tmp_path, text):
    (tmp_path / "bot.py").write_text(SLOW_BOT)
    child = spawn(["console", "bot.py"], tmp_path)
    assert say(child, "Hi").strip() == "Bot > Count: 1"
    child.sendline(text)
    child.expect_exact("action running")  # printed by the action: Ctrl-C lands inside it
    child.sendintr()
    output = ended_quietly(child)
    assert "Traceback" not in output and "Task was destroyed" not in output
    assert "Count: 2" not in output  # the interrupted action never finished its turn
    again = spawn(["console", "bot.py"], tmp_path)  # the interrupted event let go of its lock
    assert say(again, "Hi").strip() == "Bot > Count: 2"
    again.sendline("/exit")
    again.expect(pexpect.EOF)


def test_help_lists_the_commands_and_a_bare_payload_says_how(bot_dir):
    child = spawn(["console", "bot.py"], bot_dir)
    shown = say(child, "/help")
    for command in ("/state", "/session", "/payload X", "/reset", "/help", "/exit", "/quit"):
        assert command in shown
    assert say(child, "/payload").strip() == (
        "Bot > /payload needs a payload to send: /payload X, e.g. /payload GET_STARTED.")
    assert say(child, "/payload GO").strip() == "Bot > Payload: GO"
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_an_action_error_points_at_the_users_file_and_line(tmp_path):
    (tmp_path / "bot.py").write_text(textwrap.dedent(
        """
        def check(text):
            if text == "boom":
                raise ValueError("the action failed")

        async def App(context):
            check(context.event.text)
            await context.send_text("fine")
        """
    ))
    child = spawn(["console", "bot.py"], tmp_path)
    shown = say(child, "boom").strip().splitlines()
    assert shown == [
        "Error: ValueError: the action failed",
        '  File "bot.py", line 7, in App',
        "    check(context.event.text)",
        '  File "bot.py", line 4, in check',
        '    raise ValueError("the action failed")',
    ]
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_help_is_plain_text():
    for args in ("--help", "console --help"):
        output, status = pexpect.run(f"{sys.executable} -m bottender_nb {args}",
                                     withexitstatus=True, encoding="utf-8")
        assert status == 0 and "usage: bottender-nb" in output
        assert "`" not in output and "path/to/bot.py[:Name]" in output


@pytest.mark.parametrize("source, line", [
    ("async def App(context):\n    await context.send_text('hi'\n", (
        "bottender-nb: bot.py:2: SyntaxError: '(' was never closed: "
        "await context.send_text('hi'")),
    ("import json\nLIMIT = 1 / 0\n\nasync def App(context):\n    pass\n", (
        "bottender-nb: bot.py:2: loading the bot raised ZeroDivisionError: division by zero")),
    ("import no_such_module_here\n", (
        "bottender-nb: bot.py:1: loading the bot raised ModuleNotFoundError: "
        "No module named 'no_such_module_here'")),
])
def test_a_bot_file_that_cannot_load_is_one_line_naming_file_and_line(tmp_path, source, line):
    (tmp_path / "bot.py").write_text(source)
    output, status = pexpect.run(f"{sys.executable} -m bottender_nb console bot.py",
                                 cwd=str(tmp_path), withexitstatus=True, encoding="utf-8")
    assert status == 2
    assert output.replace("\r\n", "\n") == line + "\n"
