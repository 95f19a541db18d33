"""The one small cache of the app's own: results by input key, least recently used dropped first,
shared by every session of the process and safe across their threads.

It holds what st.cache_* cannot: trained stages (kept with their artifacts' paths) and the
long computations whose live progress bar Streamlit would refuse to replay from a cache.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import streamlit as st


class LRU:
    def __init__(self, size: int):
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> Any:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


@st.cache_resource(show_spinner=False)
def shared(name: str, size: int = 32) -> LRU:
    """The process-wide LRU called `name`."""
    return LRU(size)


def freeze(value: Any) -> Any:
    """A hashable form of settings (dicts and lists), for cache keys."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value
