"""The data error: what is wrong with the input and what to do.
"""
from __future__ import annotations


class DataError(ValueError):
    """The data cannot be used as given; the message says what is wrong and what to do."""
