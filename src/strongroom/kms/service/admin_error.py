"""The error of refused administrative requests, light to import (the CLI catches it)."""

from __future__ import annotations


class AdminError(Exception):
    """A refused administrative request, with a message for the operator."""
