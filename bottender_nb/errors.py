"""The errors bottender_nb raises, as one small tree.

::

    BottenderNbError                  every error of this package
    ├── StateError (TypeError)        state misuse: a non-mapping, a non-JSON value, no session
    ├── PlatformError (ValueError)    a platform name that is not one of PLATFORM_NAMES
    ├── BodyError (ValueError)        a malformed webhook body: not an object, a field of the
    │   │                             wrong type, JSON nested too deeply inside it
    │   └── SessionIdError            a body whose session key cannot be derived (an unknown
    │                                 LINE source type, an id that is a list, an object, a bool)
    ├── ConfigError (ValueError)      a malformed Bottender-shaped config or store argument
    ├── SourceError (TypeError)       sessions_frame given something that is not a source
    │   └── MissingSourceError        ... a directory that does not exist
    │       (FileNotFoundError)
    ├── HistoryError (ValueError)     a time-travel call that names a turn or session it cannot use
    ├── StoreError                    a session store failed (wraps the driver's error)
    │   └── CorruptSessionError       a stored session is not valid JSON / not a session
    ├── AnalyticsError (ValueError)   a turns frame, field or funnel step analytics cannot use
    ├── ActionError (RuntimeError)    an action used the context wrongly (a send not awaited)
    ├── DeliveryError                 a platform's API refused or did not answer a reply
    ├── ServeError                    bot.serve / poll_telegram cannot start: a port in use,
    │                                 a Telegram webhook that blocks polling, a bad token
    └── CellError (ValueError)        a notebook cell or magic line that cannot be used as asked
                                      (the magics show every error of this tree as one line)

Messages are sentences that name the bad value and say what to do instead.
"""

from __future__ import annotations

import reprlib
from typing import Any


class BottenderNbError(Exception):
    """Root of every error raised by bottender_nb."""


class StateError(BottenderNbError, TypeError):
    """Session state was misused: written directly, with a non-mapping or a non-JSON value."""


class PlatformError(BottenderNbError, ValueError):
    """A platform name bottender_nb does not know; the message lists the ones it does."""


class BodyError(BottenderNbError, ValueError):
    """A malformed webhook body; the message names the field and what it holds."""


class SessionIdError(BodyError):
    """A webhook body from which the platform's session key cannot be derived."""


class ConfigError(BottenderNbError, ValueError):
    """A Bottender-shaped configuration that cannot be used."""


class HistoryError(BottenderNbError, ValueError):
    """A rewind or fork to a turn that is not kept, or onto a session that already exists."""


class AnalyticsError(BottenderNbError, ValueError):
    """A turns frame, state field, funnel step or option that the turn analytics cannot use."""


class ActionError(BottenderNbError, RuntimeError):
    """An action used its context in a way that would lose work, e.g. a send never awaited."""


class DeliveryError(BottenderNbError):
    """A reply could not be delivered through a platform's API; names the platform and its answer."""


class ServeError(BottenderNbError):
    """A server or poller that cannot run: a port in use, a Telegram webhook blocking polling."""


class SourceError(BottenderNbError, TypeError):
    """What ``sessions_frame`` was given is not a directory, a store or a list of sessions."""


class MissingSourceError(SourceError, FileNotFoundError):
    """``sessions_frame`` was given a directory that does not exist."""


class CellError(BottenderNbError, ValueError):
    """A notebook cell or magic line that cannot be used as asked (an action name that is no
    identifier, a syntax error in an action cell, a --group the platform lacks...)."""


class StoreError(BottenderNbError):
    """A session store failed; the driver's error is chained as ``__cause__``."""


class CorruptSessionError(StoreError):
    """A stored session that is not a valid session record (the file or key is named)."""


def missing_extra(package: str, extra: str) -> ImportError:
    """An ImportError telling the user which extra installs an optional client."""
    return ImportError(
        f"{package} is not installed; install it with: pip install \"bottender-nb[{extra}]\""
    )


def show(value: Any) -> str:
    """A short, safe repr for an error message: bounded in length and depth, so a list of a
    million items or JSON nested 10,000 deep still makes a one-line message."""
    return f"{type(value).__name__} {_REPR.repr(value)}"


class _ShortRepr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 200:  # repr() of an int past 4,300 digits is a ValueError
            return f"<an int of {x.bit_length()} bits>"
        return super().repr_int(x, level)


_REPR = _ShortRepr()  # keyword arguments only from Python 3.12
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 40, 40, 3, 3
