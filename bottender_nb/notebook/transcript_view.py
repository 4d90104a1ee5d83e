"""Deprecated for one release: the names of ``bottender_nb.notebook.transcript_view`` are in
:mod:`bottender_nb.pane.transcript_view`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
