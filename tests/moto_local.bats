#!/usr/bin/env bats
# moto_local.sh (make moto): what it prints, what it runs, how it fails.

bats_require_minimum_version 1.5.0

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'

setup() {
  REPO="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  # A copy without .venv, and a stub moto_server that logs its arguments to STUB_LOG.
  PROJECT="${BATS_TEST_TMPDIR}/my project"
  mkdir -p "${PROJECT}/aws" "${BATS_TEST_TMPDIR}/bin"
  cp "${REPO}/aws/moto_local.sh" "${PROJECT}/aws/"
  export STUB_LOG="${BATS_TEST_TMPDIR}/moto_server.log"
  cat >"${BATS_TEST_TMPDIR}/bin/moto_server" <<'STUB'
#!/usr/bin/env bash
echo "moto_server $*" >>"${STUB_LOG}"
STUB
  chmod +x "${BATS_TEST_TMPDIR}/bin/moto_server"
  export PATH="${BATS_TEST_TMPDIR}/bin:/usr/bin:/bin"
  unset MOTO_PORT
}

@test "--help prints the usage to stdout and exits 0" {
  run -0 --separate-stderr "${PROJECT}/aws/moto_local.sh" --help

  assert_line --index 0 "Usage: moto_local.sh [--env]"
  assert_output --partial "MOTO_PORT=5000"
  assert_equal "${stderr}" ""
}

@test "an unknown argument prints the usage to stderr and fails" {
  run -1 --separate-stderr "${PROJECT}/aws/moto_local.sh" --port

  assert_output ""
  assert_equal "${stderr%%$'\n'*}" "Usage: moto_local.sh [--env]"
}

@test "it fails clearly when moto_server is missing" {
  rm "${BATS_TEST_TMPDIR}/bin/moto_server"

  run -1 --separate-stderr "${PROJECT}/aws/moto_local.sh"

  assert_output ""
  assert_equal "${stderr}" "moto_local: no moto_server in ${PROJECT}/.venv/bin or on PATH: run 'make moto', which installs .venv, or pip install 'moto[server]'"
}

@test "a MOTO_PORT that is not a port number is refused" {
  MOTO_PORT=80a run -1 --separate-stderr "${PROJECT}/aws/moto_local.sh"

  assert_equal "${stderr}" "moto_local: MOTO_PORT=80a is not a port number"
  assert [ ! -e "${STUB_LOG}" ]
}

@test "it prints the exports, then runs moto_server on 127.0.0.1:MOTO_PORT" {
  MOTO_PORT=5999 run -0 "${PROJECT}/aws/moto_local.sh"

  assert_line "export AWS_ENDPOINT_URL=http://127.0.0.1:5999"
  assert_line "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-west-2"
  assert_line "export AWS_EC2_METADATA_DISABLED=true"
  run cat "${STUB_LOG}"
  assert_output "moto_server -H 127.0.0.1 -p 5999"
}

@test "--env prints lines that set the settings, keeping NO_PROXY's own hosts, and runs nothing" {
  local exports
  exports="$(MOTO_PORT=5999 "${PROJECT}/aws/moto_local.sh" --env)"

  run env -i PATH="${PATH}" NO_PROXY=corp.example AWS_PROFILE=mine bash -c "${exports}"$'\nenv'

  assert_line "AWS_ENDPOINT_URL=http://127.0.0.1:5999"
  assert_line "AWS_DEFAULT_REGION=us-west-2"
  assert_line "NO_PROXY=127.0.0.1,corp.example"
  assert_line "no_proxy=127.0.0.1"
  refute_line --partial "AWS_PROFILE="
  assert [ ! -e "${STUB_LOG}" ]
}

@test "the moto server it starts answers boto3 with the settings it printed" {
  local port
  port="$("${REPO}/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # fd 3 closed: bats waits for whatever still holds it.
  MOTO_PORT="${port}" "${REPO}/aws/moto_local.sh" >"${BATS_TEST_TMPDIR}/moto.out" 2>&1 3>&- &
  local server=$!
  eval "$(MOTO_PORT="${port}" "${REPO}/aws/moto_local.sh" --env)"
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null # none of this machine's own

  run "${REPO}/.venv/bin/python" - <<'PYTHON'
import time, boto3, botocore.exceptions
deadline = time.monotonic() + 30
while True:
    try:
        print(boto3.client("sts").get_caller_identity()["Account"])
        break
    except botocore.exceptions.EndpointConnectionError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.1)
PYTHON
  kill "${server}"
  wait "${server}" || true

  assert_success
  assert_output "123456789012"
}
