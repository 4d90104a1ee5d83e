"""Deprecated for one release: the names of ``bottender_nb.notebook.kit`` are in
:mod:`bottender_nb.magics.notebook_bot`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
