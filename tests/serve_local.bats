#!/usr/bin/env bats
# serve_local.sh: which runner it picks and what it runs (the server itself: test_serve.py).

bats_require_minimum_version 1.5.0

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'

setup() {
  REPO="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  PROJECT="${BATS_TEST_TMPDIR}/my project"
  mkdir -p "${PROJECT}/test_dir/model"
  cp -r "${REPO}/serve_local.sh" "${REPO}/aws" "${PROJECT}/"
  echo "a trained model" >"${PROJECT}/test_dir/model/model.keras"

  # The stub docker records each call in STUB_LOG; STUB_DOCKER_INFO_RC=1 means no engine.
  export STUB_LOG="${BATS_TEST_TMPDIR}/docker.log"
  export PATH="${BATS_TEST_DIRNAME}/stubs:${PATH}"
  unset RUNNER PORT BASE_IMAGE DOCKER_BUILD_NETWORK DOCKER_RUN_NETWORK SAGEMAKER_MODEL_SERVER_WORKERS
}

@test "the docker runner serves test_dir/model read-only on 127.0.0.1:8080" {
  run "${PROJECT}/serve_local.sh" eeg

  assert_success
  assert_output --partial "runner=docker image=eeg on http://127.0.0.1:8080"
  run grep -x "docker build --tag eeg ${PROJECT}" "${STUB_LOG}"
  assert_success
  run grep "^docker run " "${STUB_LOG}"
  assert_output --partial "--publish 127.0.0.1:8080:8080"
  assert_output --partial "--volume ${PROJECT}/test_dir/model:/opt/ml/model:ro eeg serve"
}

@test "PORT and the server settings reach docker run" {
  PORT=9090 SAGEMAKER_MODEL_SERVER_WORKERS=2 DOCKER_RUN_NETWORK=serving run "${PROJECT}/serve_local.sh"

  assert_success
  run grep "^docker run " "${STUB_LOG}"
  assert_output --partial "--publish 127.0.0.1:9090:8080"
  assert_output --partial "--env SAGEMAKER_MODEL_SERVER_WORKERS=2"
  assert_output --partial "--network serving"
}

@test "with no model it fails and says to run make local" {
  rm "${PROJECT}/test_dir/model/model.keras"

  run -1 --separate-stderr "${PROJECT}/serve_local.sh"

  assert_equal "${stderr}" "serve_local: no model in ${PROJECT}/test_dir/model: run 'make local' first"
}

@test "a PORT that is not a port number is refused" {
  PORT=80a run -1 --separate-stderr "${PROJECT}/serve_local.sh"

  assert_equal "${stderr}" "serve_local: PORT=80a is not a port number"
}

@test "RUNNER=docker fails clearly when no engine answers" {
  STUB_DOCKER_INFO_RC=1 RUNNER=docker run -1 "${PROJECT}/serve_local.sh"

  assert_output --partial "RUNNER=docker but no Docker engine answers"
}

@test "--help prints the usage and exits 0" {
  run -0 "${PROJECT}/serve_local.sh" --help

  assert_line --index 0 "Usage: serve_local.sh [IMAGE]"
}
