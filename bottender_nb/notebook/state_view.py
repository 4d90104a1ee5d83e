"""Deprecated for one release: the names of ``bottender_nb.notebook.state_view`` are in
:mod:`bottender_nb.pane.state_view`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
