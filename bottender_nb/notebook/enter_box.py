"""Deprecated for one release: the names of ``bottender_nb.notebook.enter_box`` are in
:mod:`bottender_nb.pane.enter_box`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
