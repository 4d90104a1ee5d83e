"""The timeline's rows: a session's turns, one line each, any one of which can be picked.

Rows live in blocks (one ``Select`` of at most BLOCK_SIZE turns) inside sections (a ``VBox`` of
at most SECTION_SIZE blocks), as the transcript's bubbles do: a new turn re-sends one small
block, and a new block one section, so turn 10,000 costs what turn 10 does. Making a widget
costs several times a turn's own update, so the blocks share one layout and one style, and a
block (or section) whose turns the history dropped is emptied and reused as the next new one:
once the history is full, the timeline makes no widget at all.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets
from ipywidgets.widgets.widget_description import DescriptionStyle

from ..errors import HistoryError
from ..turns import Turn
from .turn_rows import one_line

BLOCK_SIZE = 10
"""Rows per block: a new turn re-sends the labels of one block (a Select) of at most this many."""
SECTION_SIZE = 20
"""Blocks per section: a new block re-sends one section's list of at most this many."""
LABEL_WIDTH = 72


class TurnList:
    """Rows of turns, oldest first; picking one (a click, or :meth:`pick`) calls the
    ``on_pick`` listeners with its turn."""

    def __init__(self, *, block_size: int = BLOCK_SIZE, height: str = "11em") -> None:
        self.block_size = block_size
        self.turns: dict[int, Turn] = {}  # the rows shown, by turn index
        self._blocks: deque[widgets.Select] = deque()  # oldest first, across the sections
        self._sections: deque[widgets.VBox] = deque()
        self._block_of: dict[int, widgets.Select] = {}
        self._spare: list[widgets.Select] = []  # dropped blocks, emptied, for the next new ones
        self._spare_sections: list[widgets.VBox] = []
        self._block_layout = widgets.Layout(width="100%")
        self._block_style = DescriptionStyle()
        self._listeners: list[Callable[[Turn], None]] = []
        self._rows = widgets.VBox(layout=widgets.Layout(flex="0 0 auto"))
        # A reversed scroll box keeps the newest turn in view as turns arrive (as the transcript).
        self.widget = widgets.Box([self._rows], layout=widgets.Layout(
            flex_flow="column-reverse", max_height=height, overflow="auto"))
        self.widget.add_class("bnb-timeline-list")

    @property
    def labels(self) -> list[str]:
        """The rows as they read, oldest first."""
        return [label for block in self._blocks for label, _ in block.options]

    @property
    def blocks(self) -> list[widgets.Select]:
        """The blocks of rows, oldest first."""
        return list(self._blocks)

    @property
    def sections(self) -> list[widgets.VBox]:
        """The sections of blocks, oldest first."""
        return list(self._sections)

    def on_pick(self, listener: Callable[[Turn], None]) -> None:
        """Call ``listener(turn)`` when a row is picked."""
        self._listeners.append(listener)

    def pick(self, index: int | None) -> None:
        """Pick the row of turn ``index`` (None: no row)."""
        if index is None:
            for block in self._blocks:
                if block.value is not None:
                    block.value = None
            return
        block = self._block_of.get(index)
        if block is None:
            shown = f"turns {min(self.turns)} to {max(self.turns)}" if self.turns else "no turns"
            raise HistoryError(f"Turn {index!r} is not in this pane's timeline; it shows {shown}.")
        block.value = index

    def append(self, turns: Iterable[Turn]) -> None:
        """Add rows for the kept turns not shown yet, filling the last block first."""
        fresh = [turn for turn in turns if turn.index is not None and turn.index not in self.turns]
        while fresh:
            block = self._blocks[-1] if self._blocks else None
            if block is None or len(block.options) >= self.block_size:
                block = self._new_block()
            room = self.block_size - len(block.options)
            chunk, fresh = fresh[:room], fresh[room:]
            block.options = (*block.options, *((_label(turn), turn.index) for turn in chunk))
            block.rows = len(block.options)
            for turn in chunk:
                self.turns[turn.index] = turn  # type: ignore[index]  (kept turns have one)
                self._block_of[turn.index] = block  # type: ignore[index]

    def drop_before(self, oldest_kept: int) -> None:
        """Drop the oldest blocks once none of their turns is at or after ``oldest_kept``."""
        while len(self._blocks) > 1 and self._blocks[0].options[-1][1] < oldest_kept:
            block = self._blocks.popleft()  # the first block of the first section
            for _, index in block.options:
                del self.turns[index], self._block_of[index]
            section = self._sections[0]
            section.children = section.children[1:]
            block.value = None
            block.options = ()
            block.rows = 1
            self._spare.append(block)
            if not section.children:
                self._spare_sections.append(self._sections.popleft())
                self._rows.children = tuple(self._sections)

    def clear(self) -> None:
        """No rows (before showing another session's)."""
        for widget in (*self._blocks, *self._sections):
            widget.close()
        self.close()
        self.turns, self._block_of = {}, {}
        self._blocks.clear()
        self._sections.clear()
        self._rows.children = ()

    def close(self) -> None:
        """Close the blocks and sections kept for reuse (the shown ones close with the pane's
        widget tree)."""
        for widget in (*self._spare, *self._spare_sections):
            widget.close()
        self._spare, self._spare_sections = [], []

    def _new_block(self) -> widgets.Select:
        if self._spare:
            block = self._spare.pop()
        else:
            block = widgets.Select(options=(), value=None, rows=1, layout=self._block_layout,
                                   style=self._block_style)
            block.observe(self._picked, names="value")
        self._blocks.append(block)
        if not self._sections or len(self._sections[-1].children) >= SECTION_SIZE:
            self._sections.append(self._spare_sections.pop() if self._spare_sections
                                  else widgets.VBox())
            self._rows.children = (*self._rows.children, self._sections[-1])
        self._sections[-1].children = (*self._sections[-1].children, block)
        return block

    def _picked(self, change: dict[str, Any]) -> None:
        if change["new"] is None:
            return
        for block in self._blocks:  # one row picked in the whole list
            if block is not change["owner"] and block.value is not None:
                block.value = None
        turn = self.turns[change["new"]]
        for listener in self._listeners:
            listener(turn)


def _label(turn: Turn) -> str:
    return one_line(turn, width=LABEL_WIDTH)
