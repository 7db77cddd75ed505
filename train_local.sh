#!/usr/bin/env bash
# Usage: train_local.sh [IMAGE]
# Trains on test_dir, the /opt/ml mirror beside this script, as SageMaker would.
#
# Empties test_dir/model, test_dir/output and test_dir/checkpoints, writes any missing input/config file the
# way SageMaker's local mode does, then trains:
#   docker  when a Docker engine answers: builds IMAGE (default: aws/defaults.py's, eeg) and runs
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
#                           When one host's process fails, the others get SIGTERM, and SIGKILL
#                           5 s later.
#   BASE_IMAGE=...          passed to docker build as --build-arg BASE_IMAGE
#   DOCKER_BUILD_NETWORK=.. passed to docker build as --network (host, where the engine has no bridge)
set -euo pipefail

readonly PROGRAM="train_local"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_DIR
readonly TEST_DIR="${REPO_DIR}/test_dir"
readonly HOSTS_DIR="${TEST_DIR}/hosts"
readonly STOP_GRACE_S=5
HOST_PIDS=()  # the subshell running each host, algo-1 first
KILLER_PID="" # what sends SIGKILL to the hosts left after STOP_GRACE_S

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
# at once; the chief's output to the terminal. Fails when any host fails, and then stops the
# others at once: a host whose peer has gone would otherwise wait for it up to the cluster's
# start timeout (15 minutes). Each host reports its exit on a FIFO, so no one polls.
run_hosts() {
  local count="$1" stop="$2"
  shift 2
  local exits="${HOSTS_DIR}/.exits" host i code status=0 stopping=0
  mkfifo "${exits}"
  exec 3<>"${exits}" # read and write: opening it blocks no one, and it outlives its writers
  rm -f "${exits}"
  for ((i = 1; i <= count; i++)); do
    host="algo-${i}"
    if [[ "${host}" == algo-1 ]]; then
      { code=0; "$@" "${host}" || code=$?; echo "${host} ${code}" >&3; } &
    else
      { code=0; "$@" "${host}" >"${HOSTS_DIR}/${host}/train.log" 2>&1 || code=$?; echo "${host} ${code}" >&3; } &
    fi
    HOST_PIDS+=("$!")
  done
  for ((i = 1; i <= count; i++)); do
    read -r host code <&3
    [[ "${code}" == 0 ]] && continue
    status=1
    if [[ "${host}" != algo-1 ]]; then
      echo "${PROGRAM}: ${host} failed; its log: ${HOSTS_DIR}/${host}/train.log" >&2
    fi
    if ((!stopping)); then
      stopping=1
      echo "${PROGRAM}: ${host} exited (status ${code}): stopping the other hosts" >&2
      "${stop}" "${count}"
    fi
  done
  exec 3>&-
  [[ -z "${KILLER_PID}" ]] || kill "${KILLER_PID}" 2>/dev/null || true
  wait
  return "${status}"
}

# SIGTERM to each host's training, as SageMaker stops a job; SIGKILL to any left after STOP_GRACE_S.
stop_native_hosts() {
  signal_children TERM "${HOST_PIDS[@]}"
  { sleep "${STOP_GRACE_S}"; signal_children KILL "${HOST_PIDS[@]}"; } >/dev/null 2>&1 3>&- &
  KILLER_PID="$!"
}

# The processes each of these subshells runs (the subshells themselves report the exits).
signal_children() {
  local signal="$1" pid
  shift
  for pid in "$@"; do
    pkill "-${signal}" -P "${pid}" >/dev/null 2>&1 || true
  done
}

stop_docker_hosts() {
  local count="$1" i names=()
  for ((i = 1; i <= count; i++)); do
    names+=("algo-${i}")
  done
  docker stop --time "${STOP_GRACE_S}" "${names[@]}" >/dev/null 2>&1 || true
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
    run_hosts "${count}" stop_native_hosts native_host
  else
    echo "${PROGRAM}: runner=docker image=${image} hosts=${count}" >&2
    build_image "${image}"
    IMAGE_NAME="${image}"
    # --internal: the hosts reach each other and nothing else, as with network isolation.
    NETWORK="eeg-local-$$"
    docker network create --internal "${NETWORK}" >/dev/null
    trap 'docker network rm "${NETWORK}" >/dev/null 2>&1 || true' EXIT
    run_hosts "${count}" stop_docker_hosts docker_host
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
  local image="${1:-}"
  # the image's default name is the host commands' own (aws/defaults.py)
  [[ -n "${image}" ]] || image="$(cd "${REPO_DIR}" && python3 -m aws.defaults IMAGE)"
  [[ -d "${TEST_DIR}/input" ]] || abort "no ${TEST_DIR}/input: run from a complete checkout"

  local hosts="${HOSTS:-1}"
  if [[ ! "${hosts}" =~ ^[1-9][0-9]?$ ]]; then
    # %q: a value with a newline in it still makes one line
    abort "HOSTS=$(printf '%q' "${hosts}") is not a number of hosts from 1 to 99"
  fi

  empty_folder "${TEST_DIR}/model"
  empty_folder "${TEST_DIR}/output"
  rm -rf "${TEST_DIR:?}/checkpoints" "${HOSTS_DIR:?}"
  write_missing_config

  local runner="${RUNNER:-}"
  case "${runner}" in
  docker) docker_answers || abort "RUNNER=docker but no Docker engine answers ('docker info' fails)" ;;
  native) ;;
  "") docker_answers && runner=docker || runner=native ;;
  *) abort "RUNNER=$(printf '%q' "${RUNNER}") is not docker or native" ;;
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
