#!/usr/bin/env bash
# Docker for the local-mode tests, on a machine with no registry but Debian's packages.
#
#   bash scripts/ci_docker.sh          install (if missing) + start dockerd + import the test image
#   bash scripts/ci_docker.sh stop     stop the dockerd this script started
#
# 1. Installs Debian's docker.io and docker-compose with apt-get when dockerd or a Compose
#    command is missing (needs root).
# 2. Starts dockerd itself unless a daemon already answers: no bridge and no iptables
#    (`--bridge=none --iptables=false`), overlay2 storage, falling back to vfs. Its log is
#    /tmp/workbench-dockerd.log and its pid /tmp/workbench-dockerd.pid.
# 3. Builds the test image without any registry (nothing can be pulled): a root filesystem
#    made from this machine's Python, the project's backends package and the venv's numpy,
#    scipy and scikit-learn, `docker import`ed as county-workbench-algorithms:test
#    (python -m backends.container.rootfs). Skipped until .venv exists; the tests import it
#    themselves on first use, and re-import it whenever the backends' code changed.
# Exits non-zero, saying why, when Docker cannot be made to work.
set -euo pipefail
cd "$(dirname "$0")/.."
LOG=/tmp/workbench-dockerd.log
PIDFILE=/tmp/workbench-dockerd.pid
IMAGE=${WORKBENCH_TEST_IMAGE:-county-workbench-algorithms:test}
say() { echo "ci_docker: $*" >&2; }

if [ "${1:-}" = stop ]; then
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    kill "$(cat "$PIDFILE")" && say "stopped dockerd $(cat "$PIDFILE")"
  fi
  rm -f "$PIDFILE"
  exit 0
fi

have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }
daemon_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# 1. packages
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1 || ! have_compose; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "Docker is missing and this is not root on a Debian-like system: install docker.io and docker-compose."
    exit 1
  fi
  say "installing Debian's docker.io and docker-compose…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io docker-compose >/dev/null
fi

# 2. the daemon
start_dockerd() {
  say "starting dockerd ($*)…"
  setsid nohup dockerd --bridge=none --iptables=false --ip-masq=false "$@" >"$LOG" 2>&1 < /dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 60); do
    daemon_up && return 0
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || return 1
    sleep 1
  done
  return 1
}
if daemon_up; then
  say "a Docker daemon is already running"
else
  if ! start_dockerd --storage-driver=overlay2; then
    [ -f "$PIDFILE" ] && kill "$(cat "$PIDFILE")" 2>/dev/null || true
    sleep 2
    start_dockerd --storage-driver=vfs || { say "dockerd did not start; its log:"; tail -20 "$LOG" >&2; exit 1; }
  fi
  say "dockerd $(docker version --format '{{.Server.Version}}') is up (log: $LOG)"
fi
have_compose || { say "no Docker Compose after installing docker-compose"; exit 1; }

# 3. the test image, built without any registry
if [ -x .venv/bin/python ]; then
  .venv/bin/python -m backends.container.rootfs --import "$IMAGE" --if-stale >&2
else
  say "no .venv yet: the tests will import $IMAGE on first use"
fi
say "ready"
