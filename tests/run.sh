#!/usr/bin/env bash
# Usage: tests/run.sh
# make test: pytest, then the AWS commands' tests again under SageMaker SDK v3 (make submit,
# tune and deploy with SDK=3, walkthrough.ipynb in a .venv-sdk3 kernel, and v3's own
# serializers from .venv-sdk3), then bats, then one last line that counts them all,
#   tests: N passed, N failed
# on a terminal or not (bats prints no count of its own when its output is not a terminal).
# Exits non-zero when either fails; a pytest that stopped at collection or collected
# nothing counts as a failure, however many bats tests passed.
set -euo pipefail

readonly PROGRAM="tests/run.sh"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,/^set -/p' "$0" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
  exit 0
fi
(($# == 0)) || { echo "${PROGRAM}: takes no arguments" >&2; exit 2; }

reports="$(mktemp -d)"
trap 'rm -rf "${reports}"' EXIT

status=0
passed=0
failed=0

# One run of the pytest $2 with arguments $3..., its JUnit report named $1, added to the
# counts. Exit 2 and above means pytest stopped (an import error while collecting, say; 5:
# no tests), and its report's count would hide that.
run_pytest() {
  local report="${reports}/$1.xml" pytest="$2" run_status=0 counts errors failures skipped total
  shift 2
  "${pytest}" --junitxml="${report}" "$@" || run_status=$?
  ((run_status == 0)) || status=${run_status}
  counts="$(sed -n 's/.*<testsuite [^>]*errors="\([0-9]*\)" failures="\([0-9]*\)" skipped="\([0-9]*\)" tests="\([0-9]*\)".*/\1 \2 \3 \4/p' "${report}" 2>/dev/null | head -1 || true)"
  read -r errors failures skipped total <<<"${counts:-0 0 0 0}"
  passed=$((passed + total - errors - failures - skipped))
  failed=$((failed + errors + failures))
  if ((run_status >= 2)); then
    echo "${PROGRAM}: pytest stopped before running its tests (exit ${run_status}): see its errors above" >&2
    failed=$((failed + 1))
  fi
}

run_pytest pytest "${REPO_DIR}/.venv/bin/pytest"
# the AWS commands and the notebook under v3: the same tests, each make and kernel picking
# .venv-sdk3 for SDK=3
SDK=3 run_pytest sdk3-commands "${REPO_DIR}/.venv/bin/pytest" -q \
  "${REPO_DIR}/tests/test_submit.py" "${REPO_DIR}/tests/test_tune.py" "${REPO_DIR}/tests/test_deploy.py" \
  "${REPO_DIR}/tests/test_walkthrough.py"
# v3's serializer classes, which only .venv-sdk3 has
run_pytest sdk3-serializers "${REPO_DIR}/.venv-sdk3/bin/pytest" -q -p no:cacheprovider \
  "${REPO_DIR}/tests/test_sdk_serializers.py"
"${REPO_DIR}/node_modules/bats/bin/bats" --report-formatter tap --output "${reports}" "${REPO_DIR}/tests" ||
  status=$?

# bats' TAP report has a line per test.
bats_passed="$(grep -c '^ok ' "${reports}/report.tap" 2>/dev/null || true)"
bats_failed="$(grep -c '^not ok ' "${reports}/report.tap" 2>/dev/null || true)"
passed=$((passed + ${bats_passed:-0}))
failed=$((failed + ${bats_failed:-0}))
echo "tests: ${passed} passed, ${failed} failed"
exit "${status}"
