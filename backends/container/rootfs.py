"""Build the algorithm image without any registry: a root filesystem for `docker import`.

Nothing can be pulled on an offline machine or in CI, so there is no base image to build
FROM. Instead this module packs, into one tar file:

- this machine's Python interpreter at its own path (its standard library without tests,
  Tk and IDLE), so the interpreter finds its prefix unchanged;
- the installed distributions the algorithms need (numpy, scipy, scikit-learn,
  threadpoolctl, numba and their requirements) from the running environment, under
  /opt/site-packages — the very same builds the embedded backend uses, so both compute
  bit for bit alike;
- the modules of the project's `backends` package that the entry point imports, under
  /opt/program;
- every shared library `ldd` says those need (libc, libssl, …) and the dynamic loader;
- /bin/sh and cat (for debugging, and for joblib's core count), a minimal /etc/passwd and
  /etc/group, and a world-writable /tmp.

    python -m backends.container.rootfs --import county-workbench-algorithms:test

imports it as an image whose entry point is `python -m backends.container` and whose
default command is `train` (the SageMaker training-container contract). `--output FILE`
only writes the tar. Linux only (it reads `ldd`).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DISTRIBUTIONS = ("numpy", "scipy", "scikit-learn", "threadpoolctl", "numba")
SITE_PACKAGES = "/opt/site-packages"
PROGRAM = "/opt/program"
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "lib2to3", "config-3.11-x86_64-linux-gnu"}
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distribution_closure(roots=RUNTIME_DISTRIBUTIONS) -> list[metadata.Distribution]:
    """The installed distributions `roots` need, requirements followed (extras ignored)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional requirement for another platform or Python
        seen[name] = dist
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            match = _REQ_NAME.match(requirement)
            if match:
                todo.append(match.group(1))
    return list(seen.values())


FINGERPRINT_ENV = "WORKBENCH_IMAGE_SOURCE"


def source_fingerprint() -> str:
    """A hash of what the image is made of: the backends' code, the Python and library versions.

    Stored in the image's environment, so a stale image (older code) is rebuilt, not reused.
    """
    digest = hashlib.sha256(sys.version.encode())
    for dist in sorted(distribution_closure(), key=lambda d: d.metadata["Name"].lower()):
        digest.update(f"{dist.metadata['Name']}=={dist.version}\n".encode())
    for path in image_sources():
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


# What the entry point imports: a change to any of these makes an image stale.
CONTAINER_MODULES = ("__init__.py", "base.py")
CONTAINER_PACKAGES = ("algorithms", "format", "container")


def image_sources() -> list[Path]:
    backends = REPO / "backends"
    packages = [path for name in CONTAINER_PACKAGES for path in sorted((backends / name).glob("*.py"))]
    return [backends / name for name in CONTAINER_MODULES] + packages


def image_fingerprint(tag: str) -> str | None:
    """The fingerprint an imported image carries, or None (no such image, or not ours)."""
    done = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Env}}", tag],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    for entry in json.loads(done.stdout or "[]") or []:
        if entry.startswith(FINGERPRINT_ENV + "="):
            return entry.split("=", 1)[1]
    return None


def image_config() -> dict:
    """The interpreter path and the `docker import --change` lines that make the image runnable."""
    python = Path(os.path.realpath(sys.executable))
    base = Path(sys.base_prefix)
    return {
        "python": str(python),
        "changes": [
            f"ENV {FINGERPRINT_ENV}={source_fingerprint()}",
            f"ENV PATH={base / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            f"ENV PYTHONPATH={PROGRAM}:{SITE_PACKAGES}",
            "ENV PYTHONUNBUFFERED=1",
            "ENV PYTHONDONTWRITEBYTECODE=1",
            "ENV HOME=/root",
            "ENV NUMBA_CACHE_DIR=/tmp/numba-cache",  # compiled kernels: the image's one writable place
            f"WORKDIR {PROGRAM}",
            f'ENTRYPOINT ["{python}", "-m", "backends.container"]',
            'CMD ["train"]',
        ],
    }


def _stdlib_files(stdlib: Path):
    for dirpath, dirnames, filenames in os.walk(stdlib):
        rel = Path(dirpath).relative_to(stdlib)
        if rel == Path("."):
            dirnames[:] = [d for d in dirnames if d not in STDLIB_SKIP]
        dirnames[:] = [d for d in dirnames if d not in ("tests", "test") and d != "__pycache__"]
        for name in filenames:
            if not name.startswith("_tkinter"):
                yield Path(dirpath) / name


def collect() -> dict[str, Path]:
    """Map of path in the image → file on this machine."""
    files: dict[str, Path] = {}
    python = Path(os.path.realpath(sys.executable))
    base = Path(sys.base_prefix)
    files[str(python)] = python
    for tool in ("/bin/sh", "/bin/cat"):  # a shell for debugging; cat for joblib's core count
        if Path(tool).exists():
            files[tool] = Path(os.path.realpath(tool))
    libdir = Path(sysconfig.get_config_var("LIBDIR") or base / "lib")
    for lib in libdir.glob("libpython3*.so*"):
        files[str(lib)] = lib
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in _stdlib_files(stdlib):
        files[str(path)] = path
    for dist in distribution_closure():
        for entry in dist.files or []:
            source = Path(dist.locate_file(entry))
            if not source.is_file() or "__pycache__" in entry.parts or str(entry).startswith(".."):
                continue
            files[f"{SITE_PACKAGES}/{entry.as_posix()}"] = source
    for path in image_sources():  # only what the entry point imports (see source_fingerprint)
        files[f"{PROGRAM}/{path.relative_to(REPO).as_posix()}"] = path
    return files


_LDD_PATH = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


def shared_libraries(binaries) -> dict[str, Path]:
    """Every library `ldd` resolves for `binaries`, outside the files already packed."""
    libs: dict[str, Path] = {}
    batch = [str(b) for b in binaries]
    for start in range(0, len(batch), 200):
        done = subprocess.run(["ldd", *batch[start:start + 200]], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            match = _LDD_PATH.search(line)
            if match:
                libs[match.group(1)] = Path(os.path.realpath(match.group(1)))
    return libs


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF"
    except OSError:
        return False


def build_rootfs(output: Path) -> Path:
    files = collect()
    elves = [source for source in files.values() if source.suffix == ".so" or ".so." in source.name or _is_elf(source)]
    venv_site = {str(Path(p).resolve()) for p in sys.path if p.endswith("site-packages")}
    for target, source in shared_libraries(elves).items():
        if any(str(source).startswith(site) for site in venv_site):
            continue  # bundled *.libs of the wheels: already packed beside their packages
        files.setdefault(target, source)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(output, "w") as tar:
        made: set[str] = set()

        def add_dirs(path: str, mode: int = 0o755) -> None:
            parts = Path(path).parts[1:-1]
            for i in range(1, len(parts) + 1):
                directory = "/".join(parts[:i])
                if directory not in made:
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, mode
                    tar.addfile(info)
                    made.add(directory)

        for directory, mode in (("/tmp/", 0o1777), ("/opt/ml/", 0o755), ("/root/", 0o700), ("/etc/", 0o755)):
            add_dirs(directory + "x")
            if directory == "/tmp/":
                info = tar.getmember("tmp")
                info.mode = mode
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"), ("etc/group", "root:x:0:\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for target in sorted(files):
            source = files[target]
            add_dirs(target)
            info = tar.gettarinfo(str(source), arcname=target.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
    return output


def docker_import(tar_path: Path, tag: str) -> None:
    old = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True)
    command = ["docker", "import"]
    for change in image_config()["changes"]:
        command += ["--change", change]
    subprocess.run([*command, str(tar_path), tag], check=True, stdout=subprocess.DEVNULL)
    if old.returncode == 0 and old.stdout.strip():  # drop the image this tag held before, if now unused
        subprocess.run(["docker", "image", "rm", old.stdout.strip()], capture_output=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backends.container.rootfs", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, help="write the root filesystem tar here")
    parser.add_argument("--import", dest="tag", help="docker import it under this tag")
    parser.add_argument("--if-stale", action="store_true",
                        help="with --import: do nothing when the tag already holds an image of this code")
    args = parser.parse_args(argv)
    if not args.output and not args.tag:
        parser.error("give --output FILE, --import TAG, or both")
    if args.tag and args.if_stale and not args.output and image_fingerprint(args.tag) == source_fingerprint():
        print(f"The image {args.tag} is up to date")
        return 0
    if args.output:
        tar_path = build_rootfs(args.output)
        print(f"Wrote {tar_path} ({tar_path.stat().st_size / 2**20:.0f} MiB)")
        if args.tag:
            docker_import(tar_path, args.tag)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            tar_path = build_rootfs(Path(scratch) / "rootfs.tar")
            print(f"Built the root filesystem ({tar_path.stat().st_size / 2**20:.0f} MiB)")
            docker_import(tar_path, args.tag)
    if args.tag:
        print(f"Imported the image {args.tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
