"""Deprecated for one release: the names of ``bottender_nb.notebook.magics`` are in
:mod:`bottender_nb.magics.bottender_magics` and :mod:`bottender_nb.magics.extension`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
