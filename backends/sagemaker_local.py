"""The local-mode backend: the workbench's own algorithm image, run by SageMaker local mode in Docker.

SageMaker local mode cannot run the built-in PCA/K-Means images (AWS does not support it, and
they live in AWS's own registry). This backend instead runs the project's algorithm image —
the embedded emulator behind SageMaker's training-container contract (backends/container) —
through the SDK's local mode: a `LocalSession`, a generic `Estimator` with
`instance_type='local'`, Docker Compose underneath. The SDK writes
/opt/ml/input/config/hyperparameters.json (the same strings a cloud job gets), mounts the
RecordIO-protobuf training data at /opt/ml/input/data/train (the format `record_set` writes)
and tars /opt/ml/model into model.tar.gz. No AWS account, credentials or network is needed.

The image URI is a setting (image_uri / WORKBENCH_SAGEMAKER_IMAGE_URI, default
county-workbench-algorithms:latest): build it with
`docker build -f backends/container/Dockerfile -t county-workbench-algorithms:latest backends`.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from backends import sagemaker_common
from backends.base import BackendError, OnSubmit, Progress, TrainingJob
from backends.format import model_tar, models
from backends.format.errors import ArtifactError
from backends.sagemaker_cloud import JOB_RECORD, _write_record

LOCAL_ROLE = "arn:aws:iam::000000000000:role/workbench-local-mode"  # local mode never uses it
LOCAL_REGION = "us-east-1"  # local mode needs a region name, never a real one
RECORDIO = "application/x-recordio-protobuf"
DOCKER_TIMEOUT = 20
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
COMPOSE_PREFIX = re.compile(r"^[\w.-]*algo-\d+-\w+\s*\|\s?")

BUILD_HINT = (
    "Build it with `docker build -f backends/container/Dockerfile -t {image} backends` from the repository, "
    "or offline with `python -m backends.container.rootfs --import {image}`, or set image_uri "
    "(WORKBENCH_SAGEMAKER_IMAGE_URI) to an image you have."
)


class _ProgressWriter(io.TextIOBase):
    """A stdout stand-in: the SDK streams `docker compose` output here; lines go to progress."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.buffer_text = ""
        self.lines: list[str] = []
        self.original = sys.stdout
        self._emitting = False

    def write(self, text: str) -> int:
        if self._emitting:  # a progress callback that prints: let it reach the real stdout
            return self.original.write(text)
        self.buffer_text += text
        while "\n" in self.buffer_text:
            line, self.buffer_text = self.buffer_text.split("\n", 1)
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self.buffer_text:
            self._emit(self.buffer_text)
            self.buffer_text = ""

    def _emit(self, line: str) -> None:
        line = ANSI.sub("", line).rstrip("\r")
        line = COMPOSE_PREFIX.sub("", line).strip()  # compose's "<name>-algo-1-xxxxx  | " prefix
        if line:
            self.lines.append(line)
            self._emitting = True
            try:
                self.progress(line)
            finally:
                self._emitting = False


def _docker(*args: str, timeout: float = DOCKER_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def preflight(image: str) -> None:
    """Raise BackendError saying what is missing: Docker, its daemon, Compose or the image."""
    if shutil.which("docker") is None:
        raise BackendError("Local mode needs Docker, and no `docker` command is on the PATH. Install Docker "
                           "(Debian/Ubuntu: apt-get install docker.io docker-compose) and start its daemon.")
    try:
        server = _docker("version", "--format", "{{.Server.Version}}")
    except subprocess.TimeoutExpired:
        raise BackendError("The Docker daemon did not answer within 20 s. Is it running and healthy?") from None
    if server.returncode != 0:
        detail = (server.stderr or "").strip().splitlines()[-1:] or [""]
        raise BackendError("Local mode needs a running Docker daemon, and none answered "
                           f"({detail[0]}). Start it (e.g. `sudo systemctl start docker`, or `dockerd &`) "
                           "and make sure this user may use it.")
    from sagemaker.local.image import _SageMakerContainer

    try:
        _SageMakerContainer._get_compose_cmd_prefix()
    except ImportError:
        raise BackendError("Local mode needs Docker Compose: install the `docker compose` v2 plugin or the "
                           "`docker-compose` command (Debian/Ubuntu: apt-get install docker-compose).") from None
    if _docker("image", "inspect", image).returncode != 0:
        raise BackendError(f"The algorithm image {image!r} is not in the local Docker. " + BUILD_HINT.format(image=image))


def _local_session(container_root: Path):
    import boto3
    from sagemaker.local import LocalSession

    # Static placeholder credentials: the container needs none, and with them the SDK neither
    # searches the credential chain nor copies the analyst's real keys into the container.
    boto = boto3.Session(aws_access_key_id="workbench-local-mode", aws_secret_access_key="unused",
                         region_name=LOCAL_REGION)
    session = LocalSession(boto_session=boto)
    session.config = {"local": {"local_code": True, "container_root": str(container_root)}}
    return session


def _remove_containers(container_root: Path) -> None:
    """Remove the job's stopped containers: local mode's `compose up` leaves them behind.

    By name, from the compose file the SDK wrote, rather than `compose down`, which would also
    try to remove the "sagemaker-local" network that concurrent jobs share.
    """
    import yaml

    for compose_file in container_root.rglob("docker-compose.yaml"):
        try:
            services = (yaml.safe_load(compose_file.read_text()) or {}).get("services") or {}
            names = [s["container_name"] for s in services.values() if s.get("container_name")]
            if names:
                _docker("rm", "-f", *names, timeout=60)
        except (OSError, yaml.YAMLError, subprocess.TimeoutExpired):
            pass


def _failure_reason(output_root: Path) -> str | None:
    """SageMaker's FailureReason for a local job: /opt/ml/output/failure from output.tar.gz."""
    for tar in output_root.rglob("output.tar.gz"):
        try:
            members = model_tar.read_model_tar(tar)
        except ArtifactError:
            continue
        for name, payload in members.items():
            if Path(name).name == "failure":
                return payload.decode("utf-8", "replace").strip()
    return None


class SageMakerLocalBackend(sagemaker_common.SageMakerBackend):
    name = "sagemaker-local"

    def _train(
        self, algorithm: str, X: np.ndarray, hp: dict[str, Any], *, seed: int, output_dir: Path, progress: Progress,
        on_submit: OnSubmit,
    ) -> TrainingJob:
        from sagemaker.amazon.common import write_numpy_to_dense_tensor
        from sagemaker.estimator import Estimator
        from sagemaker.inputs import TrainingInput

        image = self.settings.image_uri
        preflight(image)
        job_name = sagemaker_common.unique_name(f"{algorithm}-local")
        environment = {"WORKBENCH_ALGORITHM": algorithm, "WORKBENCH_SEED": str(seed)}
        environment.update({k: os.environ[k] for k in sagemaker_common.PASSTHROUGH_ENV if os.environ.get(k)})
        with tempfile.TemporaryDirectory(prefix="workbench-local-") as scratch:
            scratch = Path(scratch)
            data_dir, out_root, container_root = scratch / "train", scratch / "output", scratch / "containers"
            for folder in (data_dir, out_root, container_root):
                folder.mkdir()
            with open(data_dir / "matrix_0.pbr", "wb") as handle:
                write_numpy_to_dense_tensor(handle, X)  # what record_set uploads for a cloud job
            estimator = Estimator(
                image_uri=image,
                role=LOCAL_ROLE,
                instance_count=1,
                instance_type="local",
                sagemaker_session=_local_session(container_root),
                output_path=f"file://{out_root}",
                hyperparameters=sagemaker_common.sagemaker_hyperparameters(algorithm, hp),
                environment=environment,
                max_run=self.settings.max_runtime_seconds,
            )
            record = sagemaker_common.job_record(job_name, algorithm, self.name, self.settings, region=None, seed=seed,
                                       extra={"image_uri": image})
            _write_record(output_dir, record)
            on_submit(dict(record))
            progress(f"Starting {job_name}: {image} in local mode on {X.shape[0]:,} rows × {X.shape[1]} features")
            writer = _ProgressWriter(progress)
            channel = TrainingInput(f"file://{data_dir}", content_type=RECORDIO, distribution="FullyReplicated")
            try:
                with contextlib.redirect_stdout(writer):
                    estimator.fit({"train": channel}, job_name=job_name, wait=False, logs=False)
            except RuntimeError as exc:
                writer.flush()
                reason = _failure_reason(out_root) or (writer.lines[-1] if writer.lines else str(exc))
                raise BackendError(f"Local-mode training job {job_name} failed: {reason}") from None
            finally:
                _remove_containers(container_root)
            writer.flush()
            produced = next(out_root.rglob("model.tar.gz"), None)
            if produced is None:
                raise BackendError(f"Local-mode training job {job_name} finished without a model.tar.gz.")
            # Repack through the shared codec: the SDK's tar carries timestamps, ours is
            # deterministic, so equal models give byte-identical artifacts on every backend.
            members = model_tar.read_model_tar(produced)
            artifact_path = model_tar.write_model_tar(Path(output_dir) / "model.tar.gz", members)
        try:
            models.load_pca(artifact_path) if algorithm == "pca" else models.load_kmeans(artifact_path)
        except ArtifactError as exc:
            raise BackendError(f"The local job's model.tar.gz is not a readable {algorithm} model: {exc}") from None
        details: dict[str, Any] = {"image_uri": image, "status": "Completed", "record": JOB_RECORD}
        metrics = _metrics(writer.lines)
        if metrics:
            details["metrics"] = metrics
        progress(f"{job_name}: Completed; wrote {artifact_path}")
        return TrainingJob(algorithm, self.name, job_name, hp, artifact_path, 0.0, details)


def _metrics(lines: list[str]) -> dict[str, float]:
    """The `#quality_metric: host=…, train msd <loss>=…` lines the container logs."""
    out = {}
    for line in lines:
        if line.startswith("#quality_metric:") and "<loss>=" in line:
            name = line.split(", train ", 1)[-1].split(" ", 1)[0]
            try:
                out[name] = float(line.rsplit("=", 1)[1])
            except ValueError:
                continue
    return out
