"""Deprecated for one release: the names of ``bottender_nb.notebook.serve_magics`` are in
:mod:`bottender_nb.magics.serve_magics`;
each taken from here warns."""

from . import moved

__all__, __getattr__ = moved(__name__)
