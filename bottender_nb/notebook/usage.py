"""Deprecated for one release: the names of ``bottender_nb.notebook.usage`` are in
:mod:`bottender_nb.magics.usage_errors`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
