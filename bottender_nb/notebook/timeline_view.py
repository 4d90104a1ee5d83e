"""Deprecated for one release: the names of ``bottender_nb.notebook.timeline_view`` are in
:mod:`bottender_nb.pane.styles` and :mod:`bottender_nb.pane.timeline_view`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
