"""Deprecated for one release: the names of ``bottender_nb.notebook.turn_list`` are in
:mod:`bottender_nb.pane.turn_list`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
