"""Running a bot's action on a context: Bottender's chaining and props, and what it made.

The runner holds and commits the session around this; here is only the action's side.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..turns import Turn, changed_keys
from .context import Context
from .replies import check_all_awaited

Action = Callable[..., Awaitable[Any]]


async def run_action(action: Any, context: Context, session_id: str | None, now: Callable[[], float]) -> Turn:
    """Run ``action`` (and the actions it returns, as in Bottender); the turn it made.

    The turn is not kept yet: its ``index`` is the commit's to give. A send that was never
    awaited is an ActionError here, before anything is stored.
    """
    state_before = context.state
    while callable(action):  # Bottender's chaining: an action may return the next one
        result = action(context, {}) if _takes_props(action) else action(context)
        # An async def action's coroutine (checked by type first: the common case, no call).
        if type(result) is types.CoroutineType or inspect.isawaitable(result):
            result = await result
        action = result
    if context.sendings:
        check_all_awaited(context.sendings)
    event, state, replies = context.event, context.state, context.replies
    return Turn(
        session_id, context.platform, now(), "event", event.text, event.payload, event.raw,
        [reply.text for reply in replies] if replies else [], state_before, state,
        changed_keys(state_before, state),
    )


def refresh(record: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Update the session's ``user`` (``group``, ``page`` ...) from the event, as Bottender does.

    A field that still names the same id is merged, keeping what was stored about it.
    """
    for field, value in fields.items():
        old = record.get(field)
        if old == value:
            continue
        same_id = type(old) is dict and type(value) is dict and old.get("id") == value.get("id")
        record[field] = {**old, **value} if same_id else value


@functools.lru_cache(maxsize=1024)
def _takes_props(action: Callable[..., Any]) -> bool:
    """True when an action accepts ``(context, props)``, as Bottender actions may."""
    try:
        parameters = inspect.signature(action).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in parameters)
