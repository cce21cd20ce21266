"""Errors a user can cause, each with one sentence saying what and where."""

import difflib


class SymroofError(Exception):
    """Base class: the command line prints the message and exits with status 2."""


class InputError(SymroofError):
    """A value, name or unit given on the command line or through the API is wrong."""


class CatalogError(SymroofError):
    """A catalog file is missing, malformed or inconsistent."""


class UnitError(SymroofError):
    """A formula's dimensions do not match its declared unit, or do not combine."""


class SolveError(SymroofError):
    """An equation has no single positive root for its unknown (a pin can leave it so)."""


def suggest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for a mistyped name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)" if close else ""
