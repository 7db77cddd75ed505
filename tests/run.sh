#!/usr/bin/env bash
# Usage: tests/run.sh
# make test: pytest, then bats, then one last line that counts them both,
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
pytest_status=0
"${REPO_DIR}/.venv/bin/pytest" --junitxml="${reports}/pytest.xml" || pytest_status=$?
((pytest_status == 0)) || status=${pytest_status}
"${REPO_DIR}/node_modules/bats/bin/bats" --report-formatter tap --output "${reports}" "${REPO_DIR}/tests" ||
  status=$?

# pytest's JUnit report says how many ran and failed; bats' TAP report has a line per test.
pytest_counts="$(sed -n 's/.*<testsuite [^>]*errors="\([0-9]*\)" failures="\([0-9]*\)" skipped="\([0-9]*\)" tests="\([0-9]*\)".*/\1 \2 \3 \4/p' "${reports}/pytest.xml" 2>/dev/null | head -1 || true)"
read -r errors failures skipped total <<<"${pytest_counts:-0 0 0 0}"
bats_passed="$(grep -c '^ok ' "${reports}/report.tap" 2>/dev/null || true)"
bats_failed="$(grep -c '^not ok ' "${reports}/report.tap" 2>/dev/null || true)"
passed=$((total - errors - failures - skipped + ${bats_passed:-0}))
failed=$((errors + failures + ${bats_failed:-0}))
# 2: interrupted (an import error while collecting, say); 3: internal error; 4: usage; 5: no
# tests. Then pytest ran none or few of its tests, and the count above would hide it.
if ((pytest_status >= 2)); then
  echo "${PROGRAM}: pytest stopped before running its tests (exit ${pytest_status}): see its errors above" >&2
  failed=$((failed > 0 ? failed : 1))
fi
echo "tests: ${passed} passed, ${failed} failed"
exit "${status}"
