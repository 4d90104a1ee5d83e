"""Deprecated for one release: this module is now :mod:`bottender_nb.analysis.transitions`."""

from ..deprecation import moved_module

__getattr__ = moved_module(__name__, "bottender_nb.analysis.transitions")
