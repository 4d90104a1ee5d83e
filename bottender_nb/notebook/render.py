"""Deprecated for one release: the names of ``bottender_nb.notebook.render`` are in
:mod:`bottender_nb.pane.markup` and :mod:`bottender_nb.pane.styles`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
