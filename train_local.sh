#!/usr/bin/env bash
# Usage: train_local.sh [IMAGE]
# Trains on test_dir, the /opt/ml mirror beside this script, as SageMaker would.
#
# Empties test_dir/model, test_dir/output and test_dir/checkpoints, writes any missing input/config file the
# way SageMaker's local mode does, then trains:
#   docker  when a Docker engine answers: builds IMAGE (default eeg) and runs
#           docker run --rm -v "<test_dir>:/opt/ml" IMAGE train
#   native  otherwise: ./train with SAGEMAKER_BASE_DIR=test_dir
#
# Environment:
#   RUNNER=docker|native    force a runner
#   BASE_IMAGE=...          passed to docker build as --build-arg BASE_IMAGE
#   DOCKER_BUILD_NETWORK=.. passed to docker build as --network (host, where the engine has no bridge)
set -euo pipefail

readonly PROGRAM="train_local"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_DIR
readonly TEST_DIR="${REPO_DIR}/test_dir"

usage() {
  sed -n '2,/^set -/p' "$0" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
}

abort() {
  echo "${PROGRAM}: $*" >&2
  exit 1
}

# Removes what an earlier run left in a folder this script owns, keeping .gitkeep.
empty_folder() {
  local folder="$1"
  mkdir -p "${folder}"
  find "${folder:?}" -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf -- {} +
}

write_missing_config() {
  local config="${TEST_DIR}/input/config"
  mkdir -p "${config}"
  [[ -f "${config}/hyperparameters.json" ]] || echo '{}' >"${config}/hyperparameters.json"
  [[ -f "${config}/resourceconfig.json" ]] ||
    echo '{"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0", "current_instance_type": "local"}' \
      >"${config}/resourceconfig.json"
  if [[ ! -f "${config}/inputdataconfig.json" ]]; then
    local channels=()
    local folder
    for folder in "${TEST_DIR}"/input/data/*/; do
      [[ -d "${folder}" ]] || continue
      channels+=("\"$(basename "${folder}")\": {\"TrainingInputMode\": \"File\", \"S3DistributionType\": \"FullyReplicated\", \"RecordWrapperType\": \"None\"}")
    done
    local joined
    joined="$(IFS=,; echo "${channels[*]:-}")"
    echo "{${joined}}" >"${config}/inputdataconfig.json"
  fi
}

docker_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

run_in_docker() {
  local image="$1"
  local build_args=(--tag "${image}")
  [[ -n "${BASE_IMAGE:-}" ]] && build_args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  [[ -n "${DOCKER_BUILD_NETWORK:-}" ]] && build_args+=(--network "${DOCKER_BUILD_NETWORK}")
  echo "${PROGRAM}: runner=docker image=${image}" >&2
  docker build "${build_args[@]}" "${REPO_DIR}" >&2
  # --network none: training reads only /opt/ml, as on SageMaker with network isolation.
  # --user: the files it writes into test_dir belong to you, not root.
  docker run --rm --network none --user "$(id -u):$(id -g)" \
    --env "TRAINING_JOB_NAME=local-$(date +%Y%m%d-%H%M%S)" \
    --volume "${TEST_DIR}:/opt/ml" "${image}" train
}

run_natively() {
  echo "${PROGRAM}: runner=native ($1)" >&2
  if [[ -x "${REPO_DIR}/.venv/bin/python3" ]]; then
    PATH="${REPO_DIR}/.venv/bin:${PATH}"
  fi
  SAGEMAKER_BASE_DIR="${TEST_DIR}" TRAINING_JOB_NAME="local-$(date +%Y%m%d-%H%M%S)" \
    "${REPO_DIR}/train"
}

main() {
  case "${1:-}" in
  -h | --help) usage && exit 0 ;;
  -*) usage >&2 && exit 2 ;;
  esac
  [[ $# -le 1 ]] || { usage >&2; exit 2; }
  local image="${1:-eeg}"
  [[ -d "${TEST_DIR}/input" ]] || abort "no ${TEST_DIR}/input: run from a complete checkout"

  empty_folder "${TEST_DIR}/model"
  empty_folder "${TEST_DIR}/output"
  rm -rf "${TEST_DIR:?}/checkpoints"
  write_missing_config

  case "${RUNNER:-}" in
  docker) docker_answers || abort "RUNNER=docker but no Docker engine answers ('docker info' fails)"
    run_in_docker "${image}" ;;
  native) run_natively "RUNNER=native" ;;
  "") if docker_answers; then run_in_docker "${image}"; else run_natively "no Docker engine answered; RUNNER=docker to insist"; fi ;;
  *) abort "RUNNER=${RUNNER} is not docker or native" ;;
  esac
  echo "${PROGRAM}: model in ${TEST_DIR}/model" >&2
}

main "$@"
