#!/usr/bin/env bats
# tests/run.sh, make test's runner: its closing count cannot hide a pytest that ran nothing.

bats_require_minimum_version 1.5.0

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'

# A copy of the runner in a project whose pytests (.venv's and .venv-sdk3's) and bats are
# stubs: each pytest run exits with PYTEST_EXIT, writes the JUnit report in PYTEST_REPORT, if
# any, and notes its virtualenv, SDK and arguments in calls; bats reports one passing test.
# The runner runs pytest three times: everything, the AWS commands' and the notebook's tests
# under SDK=3, and v3's serializers.
setup() {
  PROJECT="${BATS_TEST_TMPDIR}/project"
  mkdir -p "${PROJECT}/tests" "${PROJECT}/.venv/bin" "${PROJECT}/.venv-sdk3/bin" "${PROJECT}/node_modules/bats/bin"
  cp "${BATS_TEST_DIRNAME}/run.sh" "${PROJECT}/tests/run.sh"
  cat >"${PROJECT}/.venv/bin/pytest" <<'STUB'
#!/usr/bin/env bash
report="${1#--junitxml=}"
shift
call="$(basename "$(dirname "$(dirname "$0")")") SDK=${SDK:-}"
for argument in "$@"; do call+=" ${argument##*/}"; done
echo "${call}" >>"${BATS_TEST_TMPDIR}/calls"
[[ -z "${PYTEST_REPORT:-}" ]] || echo "${PYTEST_REPORT}" >"${report}"
exit "${PYTEST_EXIT}"
STUB
  cp "${PROJECT}/.venv/bin/pytest" "${PROJECT}/.venv-sdk3/bin/pytest"
  cat >"${PROJECT}/node_modules/bats/bin/bats" <<'STUB'
#!/usr/bin/env bash
while (($#)); do [[ "$1" == --output ]] && echo "ok 1 a bats test" >"$2/report.tap"; shift; done
STUB
  chmod +x "${PROJECT}/.venv/bin/pytest" "${PROJECT}/.venv-sdk3/bin/pytest" "${PROJECT}/node_modules/bats/bin/bats"
}

@test "a pytest that stopped at collection fails the run and counts as a failure" {
  PYTEST_EXIT=2 PYTEST_REPORT="" run -2 --separate-stderr "${PROJECT}/tests/run.sh"

  assert_output "tests: 1 passed, 3 failed"
  [[ "${stderr}" == *"pytest stopped before running its tests (exit 2)"* ]]
}

@test "a pytest that collected no tests fails the run" {
  PYTEST_EXIT=5 PYTEST_REPORT='<testsuite errors="0" failures="0" skipped="0" tests="0">' \
    run -5 --separate-stderr "${PROJECT}/tests/run.sh"

  assert_output "tests: 1 passed, 3 failed"
}

@test "passing pytest and bats runs are counted together" {
  PYTEST_EXIT=0 PYTEST_REPORT='<testsuite errors="0" failures="0" skipped="1" tests="4">' \
    run -0 "${PROJECT}/tests/run.sh"

  assert_output "tests: 10 passed, 0 failed"
}

@test "the AWS commands' and the notebook's tests run again under SDK=3, and v3's serializers from .venv-sdk3" {
  PYTEST_EXIT=0 PYTEST_REPORT='<testsuite errors="0" failures="0" skipped="0" tests="1">' \
    run -0 "${PROJECT}/tests/run.sh"

  run cat "${BATS_TEST_TMPDIR}/calls"
  assert_output ".venv SDK=
.venv SDK=3 -q test_submit.py test_tune.py test_deploy.py test_walkthrough.py
.venv-sdk3 SDK= -q -p no:cacheprovider test_sdk_serializers.py"
}
