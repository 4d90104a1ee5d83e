"""The notebook magics that ``%load_ext bottender_nb`` registers, and the bot they share.

Modules:

- ``extension``: ``load_ipython_extension`` / ``unload_ipython_extension``.
- ``bottender_magics``: ``%%bottender_config``, ``%%action``, ``%say``, ``%state``, ``%chat``,
  ``%sessions``.
- ``history_magics``: ``%turns``, ``%rewind``, ``%fork``.
- ``testing_magics``: ``%record_test``, ``%replay``.
- ``serve_magics``: ``%serve``, ``%poll``.
- ``notebook_bot``: :class:`~.notebook_bot.NotebookBot`, the notebook's one bot, and the plain
  functions the magics call, so that the magics only parse, call and display.
- ``cells``: a cell -> a Bottender config, or an action function.
- ``arguments``: a magic's line -> its free text (as typed) and its options.
- ``usage_errors``: a misuse shown as one line; ``cell_tracebacks``: an action's error shown
  from the action's own cell.

Imports point down: the magics use :mod:`bottender_nb.pane` (``%chat``) and the core package;
nothing in the core or the pane imports them.
"""
