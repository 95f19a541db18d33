"""Errors meant for the analyst: shown with st.error, never as a traceback."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from backends.base import BackendError
from backends.format.errors import ArtifactError
from backends.format.hyperparameters import HyperparameterError
from workbench.analysis import text
from workbench.core.errors import DataError
from workbench.core.scaling import ScalingError
from workbench.runs.apply import ApplyError
from workbench.runs.records import RegistryError

USER_ERRORS: tuple[type[BaseException], ...] = (
    DataError, HyperparameterError, ScalingError, ArtifactError, BackendError, ApplyError, RegistryError,
    ValueError, ImportError, OSError,
)


class PageStop(Exception):
    """Raised by stop(): the page ends here. The entry point catches it around page.run() and then
    draws the sidebar's status and keeps the run in the address. (Not st.stop(): after it, every
    later st.* call in the rerun stops again, so the status and the address were left undone.)"""


def stop() -> None:
    """End the page here, instead of st.stop(): what the page drew so far stays on screen."""
    raise PageStop


@contextmanager
def shows_errors(what: str | None = None, *, stop: bool = True):
    """Show the library's message for a user error (no traceback); stop the page unless told not to."""
    try:
        yield
    except USER_ERRORS as exc:
        message = text.markdown(str(exc) or type(exc).__name__)  # messages quote names and paths: plain text
        st.error(f"**{what}:** {message}" if what else message, icon=":material/error:")
        if stop:  # (the argument hides stop() here)
            raise PageStop
