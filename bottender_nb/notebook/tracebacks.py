"""Deprecated for one release: the names of ``bottender_nb.notebook.tracebacks`` are in
:mod:`bottender_nb.magics.cell_tracebacks` and :mod:`bottender_nb.tracebacks`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
