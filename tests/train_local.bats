#!/usr/bin/env bats
# train_local.sh on a copy of the project in a folder whose path has spaces.

bats_require_minimum_version 1.5.0

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'

setup() {
  REPO="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  PROJECT="${BATS_TEST_TMPDIR}/my project"
  mkdir -p "${PROJECT}/test_dir/input/config" "${PROJECT}/test_dir/model" "${PROJECT}/test_dir/output"
  cp -r "${REPO}"/{train,train_local.sh,train.py,task.py,container,aws} "${PROJECT}/"
  cp "${REPO}"/test_dir/input/config/*.json "${PROJECT}/test_dir/input/config/"
  echo '{"epochs": "1", "batch_size": "8"}' >"${PROJECT}/test_dir/input/config/hyperparameters.json"
  "${REPO}/.venv/bin/python" "${REPO}/tests/make_sample_data.py" --rows 40 \
    "${PROJECT}/test_dir/input/data/training/output_dict" >/dev/null

  # The stub docker records each call in STUB_LOG; STUB_DOCKER_INFO_RC=1 means no engine.
  export STUB_LOG="${BATS_TEST_TMPDIR}/docker.log"
  export PATH="${BATS_TEST_DIRNAME}/stubs:${REPO}/.venv/bin:${PATH}"
  unset RUNNER BASE_IMAGE DOCKER_BUILD_NETWORK
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

@test "the native runner trains when no Docker engine answers" {
  STUB_DOCKER_INFO_RC=1 run "${PROJECT}/train_local.sh"

  assert_success
  assert_output --partial "runner=native (no Docker engine answered"
  assert [ -s "${PROJECT}/test_dir/model/model.keras" ]
  assert [ -s "${PROJECT}/test_dir/model/metadata.json" ]
}

@test "the docker runner builds the image and runs train with test_dir mounted at /opt/ml" {
  run "${PROJECT}/train_local.sh" eeg

  assert_success
  assert_output --partial "runner=docker image=eeg"
  run grep -x "docker build --tag eeg ${PROJECT}" "${STUB_LOG}"
  assert_success
  run grep "^docker run " "${STUB_LOG}"
  assert_output --partial "--rm"
  assert_output --partial "--volume ${PROJECT}/test_dir:/opt/ml eeg train"
}

@test "the docker runner passes BASE_IMAGE and DOCKER_BUILD_NETWORK to the build" {
  BASE_IMAGE=local/python:3.11 DOCKER_BUILD_NETWORK=host run "${PROJECT}/train_local.sh" eeg

  assert_success
  run grep "^docker build " "${STUB_LOG}"
  assert_output --partial "--build-arg BASE_IMAGE=local/python:3.11"
  assert_output --partial "--network host"
}

@test "RUNNER=native trains natively even when Docker answers" {
  RUNNER=native run "${PROJECT}/train_local.sh"

  assert_success
  assert_output --partial "runner=native (RUNNER=native)"
  run grep "^docker build" "${STUB_LOG}"
  assert_failure
}

@test "RUNNER=docker fails with a clear message when no engine answers" {
  STUB_DOCKER_INFO_RC=1 RUNNER=docker run "${PROJECT}/train_local.sh"

  assert_failure
  assert_output --partial "train_local: RUNNER=docker but no Docker engine answers"
}

@test "an unknown RUNNER is refused" {
  RUNNER=podman run "${PROJECT}/train_local.sh"

  assert_failure
  assert_output --partial "RUNNER=podman is not docker or native"
}

@test "it empties model and output but deletes nothing outside them" {
  touch "${PROJECT}/test_dir/model/old model.keras" "${PROJECT}/test_dir/model/.gitkeep"
  mkdir -p "${PROJECT}/test_dir/output/data" "${BATS_TEST_TMPDIR}/model"
  touch "${PROJECT}/test_dir/output/failure" "${PROJECT}/test_dir/output/data/history.csv"
  touch "${PROJECT}/keep.txt" "${BATS_TEST_TMPDIR}/model/keep.txt" "${PROJECT}/test_dir/input/data/training/keep.txt"

  run "${PROJECT}/train_local.sh"

  assert_success
  assert [ ! -e "${PROJECT}/test_dir/model/old model.keras" ]
  assert [ ! -e "${PROJECT}/test_dir/output/failure" ]
  assert [ -e "${PROJECT}/test_dir/model/.gitkeep" ]
  assert [ -e "${PROJECT}/keep.txt" ]
  assert [ -e "${BATS_TEST_TMPDIR}/model/keep.txt" ]
  assert [ -e "${PROJECT}/test_dir/input/data/training/keep.txt" ]
  assert [ -e "${PROJECT}/test_dir/input/data/training/output_dict" ]
}

@test "it works when model and output are missing" {
  rm -rf "${PROJECT}/test_dir/model" "${PROJECT}/test_dir/output"

  run "${PROJECT}/train_local.sh"

  assert_success
  assert [ -d "${PROJECT}/test_dir/model" ]
}

@test "it writes the config files SageMaker's local mode writes when they are missing" {
  rm "${PROJECT}"/test_dir/input/config/*.json

  run "${PROJECT}/train_local.sh"

  assert_success
  run python3 -c 'import json, sys; d = sys.argv[1]
print(json.load(open(d + "/hyperparameters.json")), json.load(open(d + "/resourceconfig.json"))["hosts"],
      sorted(json.load(open(d + "/inputdataconfig.json"))))' "${PROJECT}/test_dir/input/config"
  assert_output "{} ['algo-1'] ['training']"
}

@test "it runs from any current directory" {
  cd /

  run "${PROJECT}/train_local.sh"

  assert_success
  run grep -c "^docker run .*--volume ${PROJECT}/test_dir:/opt/ml" "${STUB_LOG}"
  assert_output 1
}

@test "--help prints the usage and exits 0" {
  run "${PROJECT}/train_local.sh" --help

  assert_success
  assert_line --index 0 "Usage: train_local.sh [IMAGE]"
}

@test "an unknown option prints the usage to stderr and fails" {
  run --separate-stderr "${PROJECT}/train_local.sh" --bogus

  assert_failure 2
  assert_equal "${output}" ""
  [[ "${stderr}" == "Usage: train_local.sh [IMAGE]"* ]]
}

@test "without an IMAGE the docker runner builds the default image of aws/defaults.py" {
  sed -i 's/^IMAGE = .*/IMAGE = "my-model"/' "${PROJECT}/aws/defaults.py"

  run "${PROJECT}/train_local.sh"

  assert_success
  run grep "^docker build --tag my-model " "${STUB_LOG}"
  assert_success
}

@test "HOSTS=2 natively trains on two hosts and the chief writes test_dir/model" {
  HOSTS=2 RUNNER=native CLUSTER_PORT="$(free_port)" run "${PROJECT}/train_local.sh"

  assert_success
  assert_output --partial "runner=native hosts=2"
  assert_output --partial "host=algo-1 (1 of 2, replicated)"
  # The hosts' agreement steps are compiled once: TensorFlow neither warns of eager collectives nor retraces.
  refute_output --partial "eagerly"
  refute_output --partial "retracing"
  assert [ -s "${PROJECT}/test_dir/model/model.keras" ]
  assert [ -s "${PROJECT}/test_dir/output/data/history.csv" ]
  assert [ ! -e "${PROJECT}/test_dir/hosts/algo-2/model/model.keras" ]
  run tail -n 1 "${PROJECT}/test_dir/hosts/algo-2/train.log"
  assert_output "done: the model is written by algo-1"
}

@test "HOSTS=2 natively stops the chief within seconds when the other host's process exits" {
  local port
  port="$(free_port)"
  # algo-2's port taken: it exits at once, and the chief would wait for it 15 minutes.
  mkfifo "${BATS_TEST_TMPDIR}/bound"
  python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("bound", flush=True); time.sleep(600)' \
    "$((port + 1))" >"${BATS_TEST_TMPDIR}/bound" &
  local listener="$!"
  read -r _ <"${BATS_TEST_TMPDIR}/bound"

  HOSTS=2 RUNNER=native CLUSTER_PORT="${port}" run timeout 180 "${PROJECT}/train_local.sh"
  kill "${listener}"

  assert_failure 1
  assert_output --partial "algo-2 exited (status 1): stopping the other hosts"
  assert_output --partial "algo-2 failed; its log: ${PROJECT}/test_dir/hosts/algo-2/train.log"
  assert [ ! -e "${PROJECT}/test_dir/model/model.keras" ]
}

@test "HOSTS=2 in docker stops every container when one fails" {
  STUB_DOCKER_FAIL="run --rm --name algo-2 *" HOSTS=2 run "${PROJECT}/train_local.sh" eeg

  assert_failure 1
  assert_output --partial "algo-2 exited (status 1): stopping the other hosts"
  run grep "^docker stop --time 5 algo-1 algo-2$" "${STUB_LOG}"
  assert_success
}

@test "HOSTS=2 in docker runs two containers named algo-1 and algo-2 on a private network" {
  HOSTS=2 run "${PROJECT}/train_local.sh" eeg

  assert_success
  run grep "^docker network create --internal eeg-local-" "${STUB_LOG}"
  assert_success
  run grep -c "^docker run --rm --name algo-[12] --hostname algo-[12] --network eeg-local-" "${STUB_LOG}"
  assert_output 2
  run grep "^docker run .*--name algo-1 " "${STUB_LOG}"
  assert_output --partial "--volume ${PROJECT}/test_dir/model:/opt/ml/model"
  assert_output --partial "--volume ${PROJECT}/test_dir/hosts/algo-1/input/config:/opt/ml/input/config:ro"
  run grep "^docker network rm eeg-local-" "${STUB_LOG}"
  assert_success
  run cat "${PROJECT}/test_dir/hosts/algo-2/input/config/resourceconfig.json"
  assert_output --partial '"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]'
}

@test "a HOSTS that is not a number of hosts is refused" {
  HOSTS=two run "${PROJECT}/train_local.sh"

  assert_failure
  assert_output --partial "HOSTS=two is not a number of hosts"
}
