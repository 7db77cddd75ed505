#!/usr/bin/env bash
# Usage: tests/run.sh
# make test: pytest, then bats, then one last line that counts them both,
#   tests: N passed, N failed
# on a terminal or not (bats prints no count of its own when its output is not a terminal).
# Exits non-zero when either fails.
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
"${REPO_DIR}/.venv/bin/pytest" --junitxml="${reports}/pytest.xml" || status=$?
"${REPO_DIR}/node_modules/bats/bin/bats" --report-formatter tap --output "${reports}" "${REPO_DIR}/tests" ||
  status=$?

# pytest's JUnit report says how many ran and failed; bats' TAP report has a line per test.
pytest_counts="$(sed -n 's/.*<testsuite [^>]*errors="\([0-9]*\)" failures="\([0-9]*\)" skipped="\([0-9]*\)" tests="\([0-9]*\)".*/\1 \2 \3 \4/p' "${reports}/pytest.xml" 2>/dev/null | head -1)"
read -r errors failures skipped total <<<"${pytest_counts:-0 0 0 0}"
bats_passed="$(grep -c '^ok ' "${reports}/report.tap" 2>/dev/null || true)"
bats_failed="$(grep -c '^not ok ' "${reports}/report.tap" 2>/dev/null || true)"
passed=$((total - errors - failures - skipped + ${bats_passed:-0}))
failed=$((errors + failures + ${bats_failed:-0}))
echo "tests: ${passed} passed, ${failed} failed"
exit "${status}"
