# shellcheck shell=bash
# A real moto server (AWS API stand-in) on 127.0.0.1, for bats files:
#   setup_file()    { start_moto; }     # and export the AWS_* settings that point at it
#   setup()         { reset_moto; }     # a clean account for each test
#   teardown_file() { stop_moto; }
# moto_server comes from the project's .venv (make installs it).

VENV_PYTHON="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv/bin/python"

start_moto() {
  export MOTO_PID=""
  local port
  port="$("${VENV_PYTHON}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # fd 3 closed: bats waits for whatever still holds it.
  "$(dirname "${VENV_PYTHON}")/moto_server" -H 127.0.0.1 -p "${port}" >"${BATS_FILE_TMPDIR}/moto.log" 2>&1 3>&- &
  export MOTO_PID=$!
  export AWS_ENDPOINT_URL="http://127.0.0.1:${port}"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-west-2
  export AWS_EC2_METADATA_DISABLED=true NO_PROXY="127.0.0.1,${NO_PROXY:-}" no_proxy="127.0.0.1,${no_proxy:-}"
  # No profile or config of the person running the tests leaks in.
  export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  unset AWS_PROFILE AWS_REGION AWS_SESSION_TOKEN
  moto_api "moto-api/" GET 30 || {
    cat "${BATS_FILE_TMPDIR}/moto.log" >&2
    echo "moto_server did not answer on ${AWS_ENDPOINT_URL} within 30 s" >&2
    return 1
  }
}

reset_moto() {
  moto_api "moto-api/reset" POST 5
}

stop_moto() {
  [[ -n "${MOTO_PID:-}" ]] || return 0
  kill "${MOTO_PID}" 2>/dev/null || true
  wait "${MOTO_PID}" 2>/dev/null || true
}

# moto_api PATH METHOD SECONDS: polls until moto answers PATH, for at most SECONDS.
moto_api() {
  "${VENV_PYTHON}" - "${AWS_ENDPOINT_URL}/$1" "$2" "$3" <<'PYTHON'
import sys, time, urllib.request
url, method, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + seconds
while True:
    try:
        request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
PYTHON
}
