#!/usr/bin/env bash
# Usage: serve_local.sh [IMAGE]
# Serves test_dir/model (what make local trained) on 127.0.0.1, as a SageMaker endpoint
# would: GET /ping, POST /invocations. Stops on Ctrl-C.
#   docker  when a Docker engine answers: builds IMAGE (default: aws/defaults.py's, eeg) and runs
#           docker run --rm -p 127.0.0.1:PORT:8080 -v "<test_dir>/model:/opt/ml/model:ro" IMAGE serve
#   native  otherwise: ./serve with SAGEMAKER_BASE_DIR=test_dir
#
# Environment:
#   PORT=8080               the port on 127.0.0.1
#   RUNNER=docker|native    force a runner
#   BASE_IMAGE=...          passed to docker build as --build-arg BASE_IMAGE
#   DOCKER_BUILD_NETWORK=.. passed to docker build as --network
#   DOCKER_RUN_NETWORK=..   passed to docker run as --network (an engine without a default bridge)
#   SAGEMAKER_MODEL_SERVER_WORKERS, SAGEMAKER_MODEL_SERVER_TIMEOUT: as on SageMaker
set -euo pipefail

readonly PROGRAM="serve_local"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_DIR
readonly MODEL_DIR="${REPO_DIR}/test_dir/model"

usage() {
  sed -n '2,/^set -/p' "$0" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
}

abort() {
  echo "${PROGRAM}: $*" >&2
  exit 1
}

docker_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

serve_in_docker() {
  local image="$1"
  local port="$2"
  local build_args=(--tag "${image}")
  [[ -n "${BASE_IMAGE:-}" ]] && build_args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  [[ -n "${DOCKER_BUILD_NETWORK:-}" ]] && build_args+=(--network "${DOCKER_BUILD_NETWORK}")
  local run_args=(--rm --init --publish "127.0.0.1:${port}:8080" --volume "${MODEL_DIR}:/opt/ml/model:ro")
  [[ -n "${DOCKER_RUN_NETWORK:-}" ]] && run_args+=(--network "${DOCKER_RUN_NETWORK}")
  local name
  for name in SAGEMAKER_MODEL_SERVER_WORKERS SAGEMAKER_MODEL_SERVER_TIMEOUT; do
    [[ -n "${!name:-}" ]] && run_args+=(--env "${name}=${!name}")
  done
  echo "${PROGRAM}: runner=docker image=${image} on http://127.0.0.1:${port}" >&2
  docker build "${build_args[@]}" "${REPO_DIR}" >&2
  exec docker run "${run_args[@]}" "${image}" serve
}

serve_natively() {
  local port="$1"
  echo "${PROGRAM}: runner=native ($2) on http://127.0.0.1:${port}" >&2
  if [[ -x "${REPO_DIR}/.venv/bin/python3" ]]; then
    PATH="${REPO_DIR}/.venv/bin:${PATH}"
  fi
  SAGEMAKER_BASE_DIR="${REPO_DIR}/test_dir" SERVE_HOST=127.0.0.1 SAGEMAKER_BIND_TO_PORT="${port}" \
    exec "${REPO_DIR}/serve"
}

main() {
  case "${1:-}" in
  -h | --help) usage && exit 0 ;;
  -*) usage >&2 && exit 2 ;;
  esac
  [[ $# -le 1 ]] || { usage >&2; exit 2; }
  local image="${1:-}"
  # the image's default name is the host commands' own (aws/defaults.py)
  [[ -n "${image}" ]] || image="$(cd "${REPO_DIR}" && python3 -m aws.defaults IMAGE)"
  local port="${PORT:-8080}"
  # %q: a value with a newline in it still makes one line. 10#: 08080 is decimal, not octal.
  if [[ ! "${port}" =~ ^[0-9]{1,5}$ ]] || ((10#${port} < 1 || 10#${port} > 65535)); then
    abort "PORT=$(printf '%q' "${port}") is not a port number"
  fi
  port="$((10#${port}))"
  [[ -f "${MODEL_DIR}/model.keras" ]] || abort "no model in ${MODEL_DIR}: run 'make local' first"

  case "${RUNNER:-}" in
  docker) docker_answers || abort "RUNNER=docker but no Docker engine answers ('docker info' fails)"
    serve_in_docker "${image}" "${port}" ;;
  native) serve_natively "${port}" "RUNNER=native" ;;
  "") if docker_answers; then serve_in_docker "${image}" "${port}"
    else serve_natively "${port}" "no Docker engine answered; RUNNER=docker to insist"; fi ;;
  *) abort "RUNNER=$(printf '%q' "${RUNNER}") is not docker or native" ;;
  esac
}

main "$@"
