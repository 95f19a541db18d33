"""Compute backends, looked up by name.

The registry maps a name to the class that implements it and what to install when its
dependencies are missing. Adding a backend means adding one module and one line here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

DEFAULT_BACKEND = "embedded"


@dataclass(frozen=True)
class BackendSpec:
    target: str  # "module:Class"
    description: str
    install_hint: str | None = None


REGISTRY: dict[str, BackendSpec] = {
    "embedded": BackendSpec(
        "backends.embedded:EmbeddedBackend",
        "SageMaker's PCA and K-Means emulated in-process; no AWS account needed.",
    ),
    "sagemaker": BackendSpec(
        "backends.sagemaker_cloud:SageMakerCloudBackend",
        "SageMaker's own built-in PCA and K-Means, as training jobs in your AWS account.",
        install_hint="pip install 'sagemaker>=2.257,<3'",
    ),
    "sagemaker-local": BackendSpec(
        "backends.sagemaker_local:SageMakerLocalBackend",
        "The workbench's algorithm image run by SageMaker local mode in Docker; no AWS account needed.",
        install_hint="pip install 'sagemaker>=2.257,<3' (local mode also needs Docker with Compose)",
    ),
}

ALIASES = {"local": "embedded"}


def available_backends() -> list[str]:
    return list(REGISTRY)


def get_backend(name: str = DEFAULT_BACKEND, **settings):
    """Instantiate the backend called `name`, with a message that says how to fix a miss."""
    key = ALIASES.get(name, name)
    spec = REGISTRY.get(key)
    if spec is None:
        raise ValueError(f"Unknown backend {name!r}; choose one of: {', '.join(REGISTRY)}.")
    module_name, class_name = spec.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" Install it with: {spec.install_hint}" if spec.install_hint else ""
        raise ImportError(f"The {key!r} backend needs a package that is not installed ({exc.name}).{hint}") from exc
    return getattr(module, class_name)(**settings)
