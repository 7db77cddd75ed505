#!/usr/bin/env bats
# The Makefile passes settings on as data, never as shell or Make text, and acts only on
# the repository's own folder.

bats_require_minimum_version 1.5.0

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'

setup() {
  REPO="$(cd "${BATS_TEST_DIRNAME}/.." && pwd)"
  MARKERS="${BATS_TEST_TMPDIR}/markers"
  mkdir -p "${MARKERS}"
  export STUB_LOG="${BATS_TEST_TMPDIR}/docker.log"
  export PATH="${BATS_TEST_DIRNAME}/stubs:${PATH}"
  # As a user types it: not nested in make test's own make.
  unset MAKEFLAGS MFLAGS MAKELEVEL
}

# Each value would create a file in MARKERS if any shell or Make ran what it holds.
hostile_values() {
  printf '%s\n' \
    "\`touch ${MARKERS}/backquote\`eeg" \
    "\"; touch ${MARKERS}/quote; echo \"" \
    "\$(touch ${MARKERS}/dollar)" \
    "\$(shell touch ${MARKERS}/make-shell)" \
    "eeg'; touch ${MARKERS}/single; '"
}

assert_nothing_ran() {
  run ls -A "${MARKERS}"
  assert_output ""
}

@test "hostile IMAGE and TAG values reach build_and_push.sh as given and run nothing" {
  local value
  while IFS= read -r value; do
    run -2 make -C "${REPO}" -s build IMAGE="${value}"
    assert_output --partial "build_and_push: IMAGE '${value}' is not a valid ECR repository name"
    run -2 make -C "${REPO}" -s build TAG="${value}"
    assert_output --partial "${value}"
  done < <(hostile_values)

  assert_nothing_ran
}

@test "hostile IMAGE values reach upload.py as given and run nothing" {
  local value
  while IFS= read -r value; do
    run -2 make -C "${REPO}" -s upload IMAGE="${value}"
    assert_output --partial "upload: error: invalid image name"
    assert_output --partial "${value}"
  done < <(hostile_values)

  assert_nothing_ran
}

@test "hostile ROLE and HYPERPARAMETERS values reach submit.py as given and run nothing" {
  local value
  while IFS= read -r value; do
    run -2 make -C "${REPO}" -s submit ROLE="${value}" DRY_RUN=1
    assert_output --partial "submit: error: invalid role"
    assert_output --partial "${value}"
    run -2 make -C "${REPO}" -s submit ROLE=arn:aws:iam::123456789012:role/R HYPERPARAMETERS="epochs=${value}"
    assert_output --partial "submit: error:"
  done < <(hostile_values)

  assert_nothing_ran
}

@test "make -f from another folder refuses to run and deletes nothing there" {
  local elsewhere="${BATS_TEST_TMPDIR}/elsewhere"
  mkdir -p "${elsewhere}/.venv" "${elsewhere}/node_modules" "${elsewhere}/test_dir/model"
  touch "${elsewhere}/test_dir/model/model.keras"
  cd "${elsewhere}"

  run -2 make -f "${REPO}/Makefile" distclean

  assert_output --partial "run make in the repository's folder, e.g. make -C ${REPO}/"
  assert [ -d "${elsewhere}/.venv" ]
  assert [ -d "${elsewhere}/node_modules" ]
  assert [ -f "${elsewhere}/test_dir/model/model.keras" ]
}

@test "make help lists every setting with its default" {
  run -0 make --no-print-directory -s -C "${REPO}" help
  local name
  while read -r name; do
    assert_line --regexp "^  [^A-Z_]*${name} +.* \(default: .+\)$"
  done < <(sed -n 's/^\([A-Z_]*\) ?=.*/\1/p' "${REPO}/Makefile")
}
