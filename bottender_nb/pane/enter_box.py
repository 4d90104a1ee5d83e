"""A text box whose Enter hands over exactly what was typed, however fast; Ctrl+S still saves.

Why not ipywidgets' ``Text``: its Enter is a ``submit`` message *without* the text, while the
text travels as value updates that ipywidgets throttles to one in flight per widget. Typed
fast, Enter overtakes the last keystrokes and "Hi" reaches the bot as "H". Its view also stops
every keydown, so Ctrl+S in the box never reaches JupyterLab's shortcut handler (which listens
in the bubbling phase).

So the box is an anywidget (a few lines of ES module below, no build step) whose browser side
sends the text *with* Enter, ``{"event": "submit", "text": ...}``: there is nothing left to
overtake. Each edit is also sent, ``{"event": "edit", "text": ...}``, as a custom message:
those are never throttled and go out in order with every other widget's messages, so a click
on a Send button next to the box reaches the kernel after the edit before it. The browser owns
the text while the user types; the kernel never writes it, it only asks the box to empty
itself when it still holds the text the kernel took. Keydowns are stopped from reaching the
notebook (as ipywidgets does, so typing "a" adds no cell) except Ctrl/Cmd+S.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

ESM = """
// Ctrl/Cmd+S (and +Shift, Save As) go on to the notebook; every other key stays in the box.
const isSave = (event) => (event.ctrlKey || event.metaKey) && !event.altKey
  && (event.code === "KeyS" || event.key.toLowerCase() === "s");

function render({ model, el }) {
  el.classList.add("jupyter-widgets", "widget-inline-hbox", "widget-text");
  const input = document.createElement("input");
  input.type = "text";
  input.className = "widget-input";
  input.autocomplete = "off";
  const describe = () => {
    input.placeholder = model.get("placeholder");
    input.setAttribute("aria-label", model.get("label") || model.get("placeholder"));
  };
  describe();
  const send = (event) => model.send({ event, text: input.value });
  input.addEventListener("keydown", (event) => {
    if (!isSave(event)) event.stopPropagation();  // the notebook's shortcuts stay out
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    send("submit");
    if (input.value.trim()) input.value = "";
  });
  input.addEventListener("keypress", (event) => event.stopPropagation());
  input.addEventListener("input", () => send("edit"));
  const onMessage = (message) => {
    if (message && message.event === "clear" && input.value === message.text) input.value = "";
  };
  model.on("change:placeholder", describe);
  model.on("change:label", describe);
  model.on("msg:custom", onMessage);
  el.appendChild(input);
  send("edit");  // a view drawn again starts empty: the kernel must not keep older text
  return () => {
    model.off("change:placeholder", describe);
    model.off("change:label", describe);
    model.off("msg:custom", onMessage);
  };
}

export default { render };
"""


class TextBox(anywidget.AnyWidget):  # type: ignore[misc]
    """One line of text; ``value`` is what the browser last reported the box holds."""

    _esm = ESM
    placeholder = traitlets.Unicode("").tag(sync=True)
    label = traitlets.Unicode("", help="the accessible name; the placeholder when empty").tag(
        sync=True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._value = ""

    @property
    def value(self) -> str:
        """The box's text as last sent from the browser (read only: the browser owns it)."""
        return self._value


class EnterBox:
    """``widget`` is the text box; ``on_enter(text)`` runs with the text Enter submitted."""

    def __init__(self, on_enter: Callable[[str], None], **options: Any) -> None:
        self.widget = TextBox(**options)
        self._on_enter = on_enter
        self.widget.on_msg(self._on_message)

    def take(self) -> str:
        """The box's text, leaving it empty (in the browser too, unless typed on since)."""
        text, self.widget._value = self.widget._value, ""
        if text:
            self.widget.send({"event": "clear", "text": text})
        return text

    def _on_message(self, _widget: TextBox, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("text"), str):
            return
        if content.get("event") == "edit":
            self.widget._value = content["text"]
        elif content.get("event") == "submit":  # the browser emptied the box unless all blank
            text = content["text"]
            self.widget._value = "" if text.strip() else text
            if text.strip():
                self._on_enter(text)
