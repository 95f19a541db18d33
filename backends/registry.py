"""The compute backends, looked up by name: each one's class, what it needs and what it can do.

The registry is read-only. Callers ask it what a backend can do (its capabilities) instead
of keeping lists of names or probing objects with `hasattr`. Adding a backend means adding
one module and one entry here; the conformance suite (tests/backends/test_conformance.py)
then runs against it, set up from the capabilities declared here.
"""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

DEFAULT_BACKEND = "embedded"


@dataclass(frozen=True)
class BackendSpec:
    """One backend: where its class is, what to install when it is missing, and its capabilities."""

    name: str
    target: str  # "module:Class"
    description: str
    install_hint: str | None = None
    runs_locally: bool = False  # computes on this machine: no AWS account, no bill
    needs_aws: bool = False  # AWS credentials, a region, a role and a bucket
    needs_docker: bool = False  # a Docker daemon with Compose, and the algorithm image
    reattachable: bool = False  # its jobs outlive the process that submitted them (attach(job_name))
    manages_endpoints: bool = False  # can list and delete live SageMaker endpoints
    settings_form: str | None = None  # whose fields in backends.sagemaker_settings configure it
    settings_beyond_form: tuple[str, ...] = ()  # settings it also reads that its form does not show


REGISTRY: Mapping[str, BackendSpec] = MappingProxyType({
    spec.name: spec for spec in (
        BackendSpec(
            "embedded", "backends.embedded:EmbeddedBackend",
            "SageMaker's PCA and K-Means emulated in-process; no AWS account needed.",
            runs_locally=True,
        ),
        BackendSpec(
            "sagemaker", "backends.sagemaker_cloud:SageMakerCloudBackend",
            "SageMaker's own built-in PCA and K-Means, as training jobs in your AWS account.",
            install_hint="pip install 'sagemaker>=2.257,<3'",
            needs_aws=True, reattachable=True, manages_endpoints=True, settings_form="sagemaker",
            settings_beyond_form=("poll_seconds",),
        ),
        BackendSpec(
            "sagemaker-local", "backends.sagemaker_local:SageMakerLocalBackend",
            "The workbench's algorithm image run by SageMaker local mode in Docker; no AWS account needed.",
            install_hint="pip install 'sagemaker>=2.257,<3' (local mode also needs Docker with Compose)",
            runs_locally=True, needs_docker=True, settings_form="sagemaker-local",
            settings_beyond_form=("max_runtime_seconds",),  # the container's time limit
        ),
    )
})

ALIASES: Mapping[str, str] = MappingProxyType({"local": "embedded"})


def available_backends() -> list[str]:
    return list(REGISTRY)


def canonical_name(name: str) -> str:
    """The registry's name for `name` (aliases resolved); a clear error for an unknown one."""
    key = ALIASES.get(name, name)
    if key not in REGISTRY:
        raise ValueError(f"Unknown backend {name!r}; choose one of: {', '.join(REGISTRY)}.")
    return key


def spec(name: str) -> BackendSpec:
    return REGISTRY[canonical_name(name)]


def settings_fields(name: str) -> list[dict[str, Any]]:
    """The fields of the backend's settings form (empty for a backend that takes no settings)."""
    form = spec(name).settings_form
    if form is None:
        return []
    from backends import sagemaker_settings

    return sagemaker_settings.settings_fields(form)


def backend_class(backend_spec: BackendSpec) -> type:
    """The class a spec names, with a message that says how to fix a missing package."""
    module_name, class_name = backend_spec.target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f" Install it with: {backend_spec.install_hint}" if backend_spec.install_hint else ""
        raise ImportError(
            f"The {backend_spec.name!r} backend needs a package that is not installed ({exc.name}).{hint}"
        ) from exc
    return getattr(module, class_name)


def create_backend(name: str = DEFAULT_BACKEND, **settings: Any):
    """A configured backend: `settings` are given at construction (None values are ignored)."""
    backend_spec = spec(name)
    given = {k: v for k, v in settings.items() if v is not None}
    # A backend without a settings form takes none: say so, rather than the class's TypeError.
    if backend_spec.settings_form is None and given:
        raise ValueError(f"The {backend_spec.name!r} backend takes no settings; got {', '.join(sorted(given))}.")
    # A setting the backend would not read is refused, not silently dropped (local mode has no
    # role, bucket or instance count); the backends check the values of the ones they read.
    readable = {field["name"] for field in settings_fields(name)} | set(backend_spec.settings_beyond_form)
    ignored = sorted(k for k in given if k not in readable)
    if ignored and backend_spec.settings_form is not None:
        from backends import sagemaker_settings

        known = set(sagemaker_settings.SageMakerSettings.__dataclass_fields__)
        if all(k in known for k in ignored):
            raise ValueError(f"The {backend_spec.name!r} backend does not use {', '.join(ignored)}; "
                             f"it reads {', '.join(sorted(readable))}.")
    return backend_class(backend_spec)(**given)
