"""The notebook kit: magics (``%load_ext bottender_nb``), the chat pane and its live state view.

Modules: ``magics`` (the Magics class), ``kit`` (the notebook's bot, plain functions the magics
call), ``cells`` (a cell -> config or action), ``arguments`` (``%say``'s text and options),
``tracebacks`` (an action's error without the runner's frames), ``chat`` (ChatPane),
``enter_box`` (a text box whose Enter carries exactly what was typed), ``recording``
(``--record``), ``transcript_view``, ``state_view``, ``source_picker``, ``render`` (HTML,
always escaped). Imports point down this list's reverse: ``magics`` -> ``kit`` -> ``chat``.
Nothing here is imported by the core package.
"""
