"""The one error of the artifact format.
"""
from __future__ import annotations


class ArtifactError(ValueError):
    """An artifact is unreadable, malformed, hostile or of the wrong kind."""
