"""Deprecated for one release: the names of ``bottender_nb.notebook.chat`` are in
:mod:`bottender_nb.pane.chat_pane`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
