#!/usr/bin/env bash
# Usage: moto_local.sh [--env]
# Runs a moto server (a stand-in for the AWS APIs, in memory) on 127.0.0.1:MOTO_PORT until
# Ctrl-C, after printing the lines that point the aws CLI, boto3 and this project's make
# targets at it: paste them into another shell. Stopping the server forgets everything.
#   --env   print those lines only, for eval "$(./moto_local.sh --env)"
#
# Environment:
#   MOTO_PORT=5000   the port on 127.0.0.1
# moto_server comes from the project's .venv (make moto installs it), else from PATH.
set -euo pipefail

readonly PROGRAM="moto_local"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR

usage() {
  sed -n '2,/^set -/p' "$0" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
}

abort() {
  echo "${PROGRAM}: $*" >&2
  exit 1
}

find_moto_server() {
  if [[ -x "${REPO_DIR}/.venv/bin/moto_server" ]]; then
    echo "${REPO_DIR}/.venv/bin/moto_server"
  elif command -v moto_server; then
    return 0
  else
    abort "no moto_server in ${REPO_DIR}/.venv/bin or on PATH: run 'make moto', which installs .venv, or pip install 'moto[server]'"
  fi
}

# The settings, as lines to paste; NO_PROXY is expanded by the shell they are pasted into.
print_environment() {
  local endpoint="$1"
  echo "export AWS_ENDPOINT_URL=${endpoint}"
  echo "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-west-2"
  echo "export AWS_EC2_METADATA_DISABLED=true"
  # shellcheck disable=SC2016 # expanded where the line is pasted
  echo 'export NO_PROXY="127.0.0.1${NO_PROXY:+,${NO_PROXY}}" no_proxy="127.0.0.1${no_proxy:+,${no_proxy}}"'
  echo "unset AWS_PROFILE AWS_REGION AWS_SESSION_TOKEN"
}

main() {
  local only_env=""
  case "${1:-}" in
  "") ;;
  --env) only_env=1 ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 1
    ;;
  esac
  local port="${MOTO_PORT:-5000}"
  if [[ ! "${port}" =~ ^[0-9]{1,5}$ ]] || ((10#${port} < 1 || 10#${port} > 65535)); then
    abort "MOTO_PORT=${port} is not a port number"
  fi
  local endpoint="http://127.0.0.1:${port}"
  if [[ -n "${only_env}" ]]; then
    print_environment "${endpoint}"
    exit 0
  fi
  local moto_server
  moto_server="$(find_moto_server)"
  echo "# moto server on ${endpoint} until Ctrl-C; in another shell, paste:"
  print_environment "${endpoint}"
  echo "# then: make upload, make submit ROLE=arn:aws:iam::123456789012:role/SageMakerTraining, make status ..."
  exec "${moto_server}" -H 127.0.0.1 -p "${port}"
}

main "$@"
