"""Deprecated for one release: the names of ``bottender_nb.notebook.source_picker`` are in
:mod:`bottender_nb.pane.source_picker` and :mod:`bottender_nb.pane.speakers`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
