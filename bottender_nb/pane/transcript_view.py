"""The chat transcript: bubbles appended in blocks, so a long chat never re-renders as a whole."""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
from ipywidgets.widgets.widget_string import HTMLStyle

from . import markup

BLOCK_SIZE = 25
"""Bubbles per block: appending re-renders one block of at most this many bubbles."""
SECTION_SIZE = 40
"""Blocks per section: a new block is added to a section of at most this many blocks."""


class TranscriptView:
    """Bubbles in a scrolling box: sections (``VBox``) of blocks (``HTML``) of bubbles.

    Appending a bubble re-renders only the last block (at most BLOCK_SIZE bubbles); a new
    block is added to the last section (at most SECTION_SIZE blocks), and a new section to the
    box once per BLOCK_SIZE * SECTION_SIZE bubbles. So message n costs the same whether n is
    10 or 10,000: nothing is re-rendered or re-sent in proportion to the chat's length.
    ``entries`` keeps the ``(speaker, text)`` pairs, ``saved_bubbles`` each bubble as the saved
    copy of the chat shows it (inline-styled, :func:`.markup.saved_bubble`).
    """

    def __init__(
        self, *, height: str = "320px", block_size: int = BLOCK_SIZE,
        section_size: int = SECTION_SIZE,
    ) -> None:
        self.entries: list[tuple[str, str]] = []
        self.saved_bubbles: list[str] = []
        self._listeners: list[Callable[[], None]] = []
        self.block_size = block_size
        self.section_size = section_size
        self._parts: list[str] = []
        self._block: widgets.HTML | None = None
        self._section: widgets.VBox | None = None
        self._blocks: list[widgets.HTML] = []
        # Making a widget costs several times a bubble's own update: the blocks share one
        # layout and one style, so a new block makes one widget, not three; sections one layout.
        self._block_layout = widgets.Layout()
        self._block_style = HTMLStyle()
        self._section_layout = widgets.Layout()
        self._sections = widgets.VBox(layout=widgets.Layout(flex="0 0 auto"))  # grow, never shrink
        # A reversed scroll box around one normal column keeps the view pinned to the newest
        # bubble as the chat grows, with no JavaScript.
        self.widget = widgets.Box(
            [self._sections],
            layout=widgets.Layout(flex_flow="column-reverse", max_height=height,
                                  overflow="auto", min_height="60px"),
        )
        self.widget.add_class("bnb-transcript")

    def add(
        self, kind: str, text: str, *, speaker: str, label: str = "", user: str = "",
        preformatted: bool = False,
    ) -> None:
        """Append one bubble (``text`` and ``label`` are escaped); record ``(speaker, text)``."""
        self.entries.append((speaker, text))
        self.saved_bubbles.append(markup.saved_bubble(
            kind, text, speaker=label or speaker, user=user, preformatted=preformatted))
        part = markup.bubble(kind, text, speaker=label, user=user, preformatted=preformatted)
        if self._block is None or len(self._parts) >= self.block_size:
            self._parts = [part]
            self._add_block(widgets.HTML(part, layout=self._block_layout,
                                         style=self._block_style))
        else:
            self._parts.append(part)
            self._block.value = "".join(self._parts)
        for listener in self._listeners:
            listener()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every bubble added."""
        self._listeners.append(callback)

    def _add_block(self, block: widgets.HTML) -> None:
        self._block = block
        self._blocks.append(block)
        if self._section is None or len(self._section.children) >= self.section_size:
            self._section = widgets.VBox([block], layout=self._section_layout)
            self._sections.children = (*self._sections.children, self._section)
        else:
            self._section.children = (*self._section.children, block)

    @property
    def blocks(self) -> list[widgets.HTML]:
        """The HTML blocks shown, oldest first."""
        return list(self._blocks)
