# shellcheck shell=bash
# What the container tests need and nothing on this machine provides: a Docker engine, a
# registry and a Python base image, each started on loopback (or a private socket) and
# stopped by its pid. Needs root and Debian's docker.io, docker-registry and debootstrap.
#   start_dockerd / stop_dockerd       engine on unix://$SERVICES_DIR/docker.sock; exports DOCKER_HOST
#   start_registry / stop_registry     Debian's docker-registry on $REGISTRY_ADDRESS
#   build_base_image NAME              debootstrap bookworm + python3, imported as NAME

REGISTRY_ADDRESS="127.0.0.1:5000"

# Polls COMMAND until it succeeds, for at most SECONDS: wait_for SECONDS COMMAND...
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# Waits for a pid that is not our child (setup_file and teardown_file may differ) to end.
stop_pid() {
  local pid="$1"
  [[ -n "${pid}" ]] || return 0
  kill "${pid}" 2>/dev/null || return 0
  wait_for 60 bash -c "! kill -0 ${pid}" || kill -9 "${pid}" 2>/dev/null || true
}

# A short private folder: dockerd's unix sockets fail on paths over 108 characters.
services_dir() {
  if [[ -z "${SERVICES_DIR:-}" ]]; then
    SERVICES_DIR="$(mktemp -d /tmp/eeg-services.XXXXXX)"
    export SERVICES_DIR
  fi
}

start_dockerd() {
  services_dir
  # No bridge, no iptables: containers run with --network none, builds with --network host.
  dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
    --data-root="${SERVICES_DIR}/docker" --exec-root="${SERVICES_DIR}/exec" \
    --pidfile="${SERVICES_DIR}/dockerd.pid" --host="unix://${SERVICES_DIR}/docker.sock" \
    >"${SERVICES_DIR}/dockerd.log" 2>&1 3>&- &
  export DOCKERD_PID=$!
  export DOCKER_HOST="unix://${SERVICES_DIR}/docker.sock"
  # docker login writes here, not into the home folder of whoever runs the tests.
  export DOCKER_CONFIG="${SERVICES_DIR}/docker-config"
  wait_for 60 docker info || {
    tail -20 "${SERVICES_DIR}/dockerd.log" >&2
    echo "dockerd did not answer on ${DOCKER_HOST} within 60 s" >&2
    return 1
  }
}

stop_dockerd() {
  stop_pid "${DOCKERD_PID:-}"
}

start_registry() {
  services_dir
  if registry_answers; then
    echo "something already answers on ${REGISTRY_ADDRESS}: stop it first" >&2
    return 1
  fi
  cat >"${SERVICES_DIR}/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${SERVICES_DIR}/registry
http:
  addr: ${REGISTRY_ADDRESS}
EOF
  docker-registry serve "${SERVICES_DIR}/registry.yml" >"${SERVICES_DIR}/registry.log" 2>&1 3>&- &
  export REGISTRY_PID=$!
  wait_for 30 registry_answers || {
    cat "${SERVICES_DIR}/registry.log" >&2
    echo "docker-registry did not answer on ${REGISTRY_ADDRESS} within 30 s" >&2
    return 1
  }
}

stop_registry() {
  stop_pid "${REGISTRY_PID:-}"
}

registry_answers() {
  registry_api "v2/" >/dev/null
}

# The HTTP API of the registry (GET, or HEAD with --head), with a schema 2 manifest accepted.
registry_api() {
  "${VENV_PYTHON:?}" - "http://${REGISTRY_ADDRESS}/$1" "${2:-}" <<'PYTHON'
import sys, urllib.request
url, head = sys.argv[1], sys.argv[2] == "--head"
accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json"
request = urllib.request.Request(url, method="HEAD" if head else "GET", headers={"Accept": accept})
with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as answer:
    sys.stdout.write(answer.headers.get("Content-Type", "") + "\n" if head else answer.read().decode())
PYTHON
}

# The machine's own Debian mirror (its apt sources), never a hard-coded host.
debian_mirror() {
  local mirror
  mirror="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "${mirror}" ]] || mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -E 's/\[[^]]*\]//' | awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' || true)"
  [[ -n "${mirror}" ]] || { echo "no Debian mirror in /etc/apt/sources*" >&2; return 1; }
  echo "${mirror}"
}

build_base_image() {
  local name="$1" rootfs="${SERVICES_DIR}/rootfs" mirror
  mirror="$(debian_mirror)"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "${rootfs}" "${mirror}" >"${SERVICES_DIR}/debootstrap.log" 2>&1 || {
    tail -20 "${SERVICES_DIR}/debootstrap.log" >&2
    return 1
  }
  # Where HTTPS passes a TLS-intercepting proxy, only the host's CA bundle trusts it; pip in
  # the image build reads the host's pip settings (its cert= line) from /etc/pip.conf.
  cp /etc/ssl/certs/ca-certificates.crt "${rootfs}/etc/ssl/certs/ca-certificates.crt"
  [[ ! -f /etc/pip.conf ]] || cp /etc/pip.conf "${rootfs}/etc/pip.conf"
  rm -rf "${rootfs:?}/var/cache/apt/archives/"*.deb "${rootfs:?}/var/lib/apt/lists/"*
  # An imported image has no environment: give it the PATH and locale the python images have.
  tar -C "${rootfs}" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' - "${name}" >/dev/null
  rm -rf "${rootfs:?}"
}

remove_services_dir() {
  [[ -n "${SERVICES_DIR:-}" ]] || return 0
  # dockerd can leave its network namespace mounted under the exec root.
  local mount
  awk -v dir="${SERVICES_DIR}" 'index($2, dir "/") == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mount; do umount "${mount}" || true; done
  rm -rf "${SERVICES_DIR:?}"
}
