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
#   HOSTS=N                 train data-parallel on N hosts, algo-1 ... algo-N (default 1). Each has
#                           its own /opt/ml tree in test_dir/hosts/HOST (config, checkpoints, and for
#                           algo-2 on its model and output) over test_dir's input data; algo-1, the
#                           chief, writes test_dir/model and test_dir/output as a single host would.
#                           native: N processes on 127.0.0.1, ports CLUSTER_PORT (7777) and up;
#                           docker: N containers named HOST on a private network, as on SageMaker.
#                           The other hosts' logs go to test_dir/hosts/HOST/train.log.
#   BASE_IMAGE=...          passed to docker build as --build-arg BASE_IMAGE
#   DOCKER_BUILD_NETWORK=.. passed to docker build as --network (host, where the engine has no bridge)
set -euo pipefail

readonly PROGRAM="train_local"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_DIR
readonly TEST_DIR="${REPO_DIR}/test_dir"
readonly HOSTS_DIR="${TEST_DIR}/hosts"

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

# One host's /opt/ml tree: its own config and checkpoints; test_dir's data, and for the
# chief test_dir's model and output, linked (docker mounts the same folders).
write_host_tree() {
  local host="$1" hosts_json="$2"
  local tree="${HOSTS_DIR}/${host}"
  mkdir -p "${tree}/input/config" "${tree}/checkpoints"
  cp "${TEST_DIR}/input/config/hyperparameters.json" "${TEST_DIR}/input/config/inputdataconfig.json" \
    "${tree}/input/config/"
  printf '{"current_host": "%s", "hosts": %s, "network_interface_name": "eth0", "current_instance_type": "local"}\n' \
    "${host}" "${hosts_json}" >"${tree}/input/config/resourceconfig.json"
  ln -sfn ../../../input/data "${tree}/input/data"
  if [[ "${host}" == algo-1 ]]; then
    ln -sfn ../../model "${tree}/model"
    ln -sfn ../../output "${tree}/output"
  else
    mkdir -p "${tree}/model" "${tree}/output"
  fi
}

# model or output of a host: test_dir's own for the chief
host_folder() {
  if [[ "$1" == algo-1 ]]; then echo "${TEST_DIR}/$2"; else echo "${HOSTS_DIR}/$1/$2"; fi
}

# Runs "$@" (one command line per host, HOST replaced by the host's name) for every host
# at once; the chief in the foreground. Fails when any host fails.
run_hosts() {
  local count="$1"
  shift
  local pids=() host i status=0
  for ((i = 2; i <= count; i++)); do
    host="algo-${i}"
    "$@" "${host}" >"${HOSTS_DIR}/${host}/train.log" 2>&1 &
    pids+=("$!")
  done
  "$@" algo-1 || status=$?
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      echo "${PROGRAM}: algo-$((i + 2)) failed; its log: ${HOSTS_DIR}/algo-$((i + 2))/train.log" >&2
      status=1
    fi
  done
  return "${status}"
}

native_host() {
  local host="$1"
  SAGEMAKER_BASE_DIR="${HOSTS_DIR}/${host}" TRAINING_JOB_NAME="${JOB_NAME}" "${REPO_DIR}/train"
}

docker_host() {
  local host="$1"
  local tree="${HOSTS_DIR}/${host}"
  docker run --rm --name "${host}" --hostname "${host}" --network "${NETWORK}" \
    --user "$(id -u):$(id -g)" --env "TRAINING_JOB_NAME=${JOB_NAME}" \
    --volume "${tree}/input/config:/opt/ml/input/config:ro" \
    --volume "${TEST_DIR}/input/data:/opt/ml/input/data:ro" \
    --volume "$(host_folder "${host}" model):/opt/ml/model" \
    --volume "$(host_folder "${host}" output):/opt/ml/output" \
    --volume "${tree}/checkpoints:/opt/ml/checkpoints" \
    "${IMAGE_NAME}" train
}

train_on_hosts() {
  local count="$1" runner="$2" image="$3"
  local hosts_json host i
  hosts_json="[$(for ((i = 1; i <= count; i++)); do printf '%s"algo-%d"' "$([[ ${i} -gt 1 ]] && echo ', ')" "${i}"; done)]"
  rm -rf "${HOSTS_DIR:?}"
  for ((i = 1; i <= count; i++)); do
    write_host_tree "algo-${i}" "${hosts_json}"
  done
  JOB_NAME="local-$(date +%Y%m%d-%H%M%S)"
  if [[ "${runner}" == native ]]; then
    echo "${PROGRAM}: runner=native hosts=${count}" >&2
    [[ -x "${REPO_DIR}/.venv/bin/python3" ]] && PATH="${REPO_DIR}/.venv/bin:${PATH}"
    local port="${CLUSTER_PORT:-7777}" addresses=()
    for ((i = 1; i <= count; i++)); do
      addresses+=("algo-${i}=127.0.0.1:$((port + i - 1))")
    done
    CLUSTER_ADDRESSES="$(IFS=,; echo "${addresses[*]}")"
    export CLUSTER_ADDRESSES
    run_hosts "${count}" native_host
  else
    echo "${PROGRAM}: runner=docker image=${image} hosts=${count}" >&2
    build_image "${image}"
    IMAGE_NAME="${image}"
    # --internal: the hosts reach each other and nothing else, as with network isolation.
    NETWORK="eeg-local-$$"
    docker network create --internal "${NETWORK}" >/dev/null
    trap 'docker network rm "${NETWORK}" >/dev/null 2>&1 || true' EXIT
    run_hosts "${count}" docker_host
  fi
}

docker_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

build_image() {
  local image="$1"
  local build_args=(--tag "${image}")
  [[ -n "${BASE_IMAGE:-}" ]] && build_args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  [[ -n "${DOCKER_BUILD_NETWORK:-}" ]] && build_args+=(--network "${DOCKER_BUILD_NETWORK}")
  docker build "${build_args[@]}" "${REPO_DIR}" >&2
}

run_in_docker() {
  local image="$1"
  echo "${PROGRAM}: runner=docker image=${image}" >&2
  build_image "${image}"
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

  local hosts="${HOSTS:-1}"
  [[ "${hosts}" =~ ^[1-9][0-9]?$ ]] || abort "HOSTS=${hosts} is not a number of hosts from 1 to 99"

  empty_folder "${TEST_DIR}/model"
  empty_folder "${TEST_DIR}/output"
  rm -rf "${TEST_DIR:?}/checkpoints" "${HOSTS_DIR:?}"
  write_missing_config

  local runner="${RUNNER:-}"
  case "${runner}" in
  docker) docker_answers || abort "RUNNER=docker but no Docker engine answers ('docker info' fails)" ;;
  native) ;;
  "") docker_answers && runner=docker || runner=native ;;
  *) abort "RUNNER=${RUNNER} is not docker or native" ;;
  esac
  if [[ "${hosts}" -gt 1 ]]; then
    train_on_hosts "${hosts}" "${runner}" "${image}"
  elif [[ "${runner}" == docker ]]; then
    run_in_docker "${image}"
  elif [[ -n "${RUNNER:-}" ]]; then
    run_natively "RUNNER=native"
  else
    run_natively "no Docker engine answered; RUNNER=docker to insist"
  fi
  echo "${PROGRAM}: model in ${TEST_DIR}/model" >&2
}

main "$@"
