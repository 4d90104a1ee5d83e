"""The errors bottender_nb raises, as one small tree.

::

    BottenderNbError                  every error of this package
    ├── StateError (TypeError)        state misuse: a non-mapping, a non-JSON value, no session
    ├── SessionIdError (ValueError)   a webhook body whose session key cannot be derived
    ├── ConfigError (ValueError)      a Bottender-shaped config that is malformed
    ├── HistoryError (ValueError)     a time-travel call that names a turn or session it cannot use
    ├── StoreError                    a session store failed (wraps the driver's error)
    │   └── CorruptSessionError       a stored session is not valid JSON / not a session
    ├── AnalyticsError (ValueError)   a turns frame, field or funnel step analytics cannot use
    └── notebook.cells.CellError      a %%action / %%bottender_config cell that cannot be used
        (ValueError)                  (the magics show every error of this tree as one line)

Messages are sentences that name the bad value and say what to do instead.
"""

from __future__ import annotations


class BottenderNbError(Exception):
    """Root of every error raised by bottender_nb."""


class StateError(BottenderNbError, TypeError):
    """Session state was misused: written directly, with a non-mapping or a non-JSON value."""


class SessionIdError(BottenderNbError, ValueError):
    """A webhook body from which the platform's session key cannot be derived."""


class ConfigError(BottenderNbError, ValueError):
    """A Bottender-shaped configuration that cannot be used."""


class HistoryError(BottenderNbError, ValueError):
    """A rewind or fork to a turn that is not kept, or onto a session that already exists."""


class AnalyticsError(BottenderNbError, ValueError):
    """A turns frame, state field, funnel step or option that the turn analytics cannot use."""


class StoreError(BottenderNbError):
    """A session store failed; the driver's error is chained as ``__cause__``."""


class CorruptSessionError(StoreError):
    """A stored session that is not a valid session record (the file or key is named)."""


def missing_extra(package: str, extra: str) -> ImportError:
    """An ImportError telling the user which extra installs an optional client."""
    return ImportError(
        f"{package} is not installed; install it with: pip install \"bottender-nb[{extra}]\""
    )
