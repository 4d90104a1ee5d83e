"""Deprecated for one release: the names of ``bottender_nb.notebook.cells`` are in
:mod:`bottender_nb.errors` and :mod:`bottender_nb.magics.cells`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
