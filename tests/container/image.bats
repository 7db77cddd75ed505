#!/usr/bin/env bats
# The training image in a real Docker engine: `make push` builds it on a debootstrapped
# Python base and pushes it to a local registry (moto answers the AWS calls); the tests pull
# it back and run it the way SageMaker does. Needs root, Linux, and Debian's docker.io,
# docker-registry and debootstrap (.ci/run installs them). Run: make test-container

load '../../node_modules/bats-support/load'
load '../../node_modules/bats-assert/load'
load '../moto'
load 'services'
bats_require_minimum_version 1.5.0

REPO_DIR="$(cd "${BATS_TEST_DIRNAME}/../.." && pwd)"
BASE_IMAGE="local/python:3.11-bookworm"

# Runs a step of setup_file and reports its duration in the test output.
timed() {
  local label="$1" started=${SECONDS}
  shift
  "$@"
  echo "# ${label}: $((SECONDS - started)) s" >&3
}

start_services() {
  start_dockerd
  start_registry
  start_moto
}

make_push() {
  # --no-print-directory: make's own "Leaving directory" line would follow the URI.
  DOCKER_BUILD_NETWORK=host make --no-print-directory -C "${REPO_DIR}" push \
    IMAGE=eeg REGISTRY="${REGISTRY_ADDRESS}" BASE_IMAGE="${BASE_IMAGE}" \
    >"${BATS_FILE_TMPDIR}/push.out" 2>"${BATS_FILE_TMPDIR}/push.err" || {
    tail -30 "${BATS_FILE_TMPDIR}/push.err" >&2
    return 1
  }
  IMAGE_URI="$(tail -1 "${BATS_FILE_TMPDIR}/push.out")"
  export IMAGE_URI
}

setup_file() {
  # Nothing inherited names what teardown_file kills or deletes: only what this file started.
  export DOCKERD_PID="" REGISTRY_PID="" MOTO_PID="" SERVICES_DIR=""
  timed "engine, registry and moto started" start_services
  timed "base image ${BASE_IMAGE} (debootstrap)" build_base_image "${BASE_IMAGE}"
  timed "make push (build and push)" make_push
}

# What the serving test starts, removed whatever the test's outcome.
teardown() {
  docker rm --force eeg-serve algo-1 algo-2 >/dev/null 2>&1 || true
  docker network rm eeg-serving >/dev/null 2>&1 || true
}

teardown_file() {
  stop_moto
  stop_registry
  stop_dockerd
  remove_services_dir
}

# A copy of test_dir, the bundled /opt/ml sample, that trains for $1 epochs: under the
# setting that makes task.py's model train by epochs, if its defaults are solved in closed
# form (tests/conftest.py's by_epochs).
opt_ml() {
  local tree="${BATS_TEST_TMPDIR}/opt_ml"
  cp -r "${REPO_DIR}/test_dir" "${tree}"
  rm -rf "${tree:?}/model/"* "${tree:?}/output/"*
  "${REPO_DIR}/.venv/bin/python" - "${REPO_DIR}" "$1" >"${tree}/input/config/hyperparameters.json" <<'PYTHON'
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
import conftest
print(json.dumps({**conftest.by_epochs(), "epochs": sys.argv[2], "batch_size": "32", "patience": "0"}))
PYTHON
  echo "${tree}"
}

epoch_logged() {
  docker logs "$1" 2>&1 | grep -q '^epoch='
}

# The test rows (x_test) of the sample's pickle $1 as CSV, one recording per line, all of them
# or the first $2: "%.9g" writes each float32 so that it reads back the same.
test_rows_csv() {
  "${VENV_PYTHON}" -c '
import pickle, sys
x = pickle.load(open(sys.argv[1], "rb"))["x_test"][: int(sys.argv[2]) if len(sys.argv) > 2 else None]
print("\n".join(",".join(f"{v:.9g}" for v in row) for row in x.reshape(len(x), -1)))' "$@"
}

manifest() {
  registry_api "v2/eeg/manifests/$1"
}

@test "make push prints the pushed image's URI with its digest last on stdout" {
  assert_regex "${IMAGE_URI}" "^${REGISTRY_ADDRESS}/eeg@sha256:[0-9a-f]{64}$"
}

@test "the registry holds the image as latest and as the git SHA" {
  run -0 registry_api "v2/eeg/tags/list"
  assert_output --partial '"latest"'
  assert_output --partial "\"$(git -C "${REPO_DIR}" rev-parse --short HEAD)"
}

@test "the pushed manifest is a single linux/amd64 image, not an index SageMaker rejects" {
  run -0 registry_api "v2/eeg/manifests/${IMAGE_URI#*@}" --head
  assert_output --partial "application/vnd.docker.distribution.manifest.v2+json"
  local config
  config="$(manifest "${IMAGE_URI#*@}" | "${VENV_PYTHON}" -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])')"
  run -0 registry_api "v2/eeg/blobs/${config}"
  assert_output --regexp '"architecture": ?"amd64"'
  assert_output --regexp '"os": ?"linux"'
}

@test "the pushed image can be pulled back: every layer is in the registry" {
  local layer
  for layer in $(manifest "${IMAGE_URI#*@}" | "${VENV_PYTHON}" -c 'import json, sys; [print(l["digest"]) for l in json.load(sys.stdin)["layers"]]'); do
    run -0 registry_api "v2/eeg/blobs/${layer}" --head
  done
  run -0 docker pull "${IMAGE_URI}"
}

@test "the image is at most 1.3 GB: SageMaker pulls it at every job start" {
  local size
  size="$(docker image inspect --format '{{.Size}}' "${IMAGE_URI}")"
  ((size <= 1300000000)) || fail "the image is ${size} bytes, over 1.3 GB (1300000000 bytes)"
}

@test "docker run --network none IMAGE train trains and writes the model" {
  local tree
  tree="$(opt_ml 2)"
  run -0 docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train
  assert_line --regexp '^epoch=2/2 loss='
  assert [ -s "${tree}/model/model.keras" ]
  assert [ ! -e "${tree}/output/failure" ]
}

@test "docker run IMAGE with no argument trains too" {
  local tree
  tree="$(opt_ml 1)"
  run -0 docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}"
  assert [ -s "${tree}/model/model.keras" ]
}

@test "a broken input leaves the failure file and a non-zero exit" {
  local tree
  tree="$(opt_ml 1)"
  echo "not a pickle" >"${tree}/input/data/training/output_dict"
  run -1 docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train
  assert [ -s "${tree}/output/failure" ]
  assert [ ! -e "${tree}/model/model.keras" ]
}

@test "docker stop (SIGTERM) ends training well inside its timeout, with a checkpoint" {
  local tree started
  tree="$(opt_ml 100000)"
  # As a job with CheckpointConfig: each finished epoch is checkpointed as it ends.
  echo '{}' >"${tree}/input/config/checkpointconfig.json"
  docker run -d --name eeg-sigterm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train
  wait_for 120 epoch_logged eeg-sigterm
  started=${SECONDS}
  docker stop -t 60 eeg-sigterm
  # SIGKILL would come after 60 s, with exit code 137; 143 is train.py's own answer to SIGTERM.
  assert [ $((SECONDS - started)) -lt 20 ]
  run -0 docker inspect --format '{{.State.ExitCode}}' eeg-sigterm
  assert_output 143
  run -0 cat "${tree}/output/failure"
  assert_output --partial "stopped by SIGTERM"
  # The newest two epochs and the best are kept: which ones depends on how far it got.
  local checkpoints=("${tree}"/checkpoints/algo-1.epoch-*.keras)
  assert [ -s "${checkpoints[0]}" ]
  assert [ -s "${checkpoints[0]%.keras}.json" ]
  docker rm eeg-sigterm
}

@test "make local trains in the Docker engine when one answers" {
  DOCKER_BUILD_NETWORK=host run -0 make --no-print-directory -C "${REPO_DIR}" local BASE_IMAGE="${BASE_IMAGE}"
  assert_line --partial "train_local: runner=docker"
  assert [ -s "${REPO_DIR}/test_dir/model/model.keras" ]
}

@test "docker run -p 127.0.0.1:8080:8080 IMAGE serve answers /ping and /invocations with the model mounted" {
  local tree
  tree="$(opt_ml 2)"
  docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train >/dev/null
  test_rows_csv "${tree}/input/data/training/output_dict" 5 >"${BATS_TEST_TMPDIR}/rows.csv"
  # The engine has no default bridge (services.bash): ports are published from a network of our own.
  docker network create eeg-serving >/dev/null
  docker run -d --name eeg-serve --network eeg-serving --publish 127.0.0.1:8080:8080 \
    -v "${tree}/model:/opt/ml/model:ro" "${IMAGE_URI}" serve >/dev/null
  wait_for 120 curl --silent --fail http://127.0.0.1:8080/ping || fail "$(docker logs eeg-serve 2>&1 | tail -20)"
  run -0 curl --silent --fail -H "Content-Type: text/csv" -H "Accept: text/csv" \
    --data-binary "@${BATS_TEST_TMPDIR}/rows.csv" http://127.0.0.1:8080/invocations
  assert_equal "${#lines[@]}" 5
  run -0 docker stop -t 30 eeg-serve
  run -0 docker inspect --format '{{.State.ExitCode}}' eeg-serve
  assert_output 0
}

@test "make local HOSTS=2 in Docker: containers algo-1 and algo-2 find each other by name and train one model" {
  local project="${BATS_TEST_TMPDIR}/project"
  mkdir -p "${project}"
  cp -r "${REPO_DIR}"/{Dockerfile,.dockerignore,train,serve,train_local.sh,train.py,task.py,requirements.txt,requirements-gpu.txt,container} \
    "${REPO_DIR}/test_dir" "${project}/"
  rm -rf "${project:?}/test_dir/model/"* "${project:?}/test_dir/output/"* "${project}/test_dir/hosts"
  echo '{"epochs": "2", "patience": "0"}' >"${project}/test_dir/input/config/hyperparameters.json"

  HOSTS=2 RUNNER=docker BASE_IMAGE="${BASE_IMAGE}" DOCKER_BUILD_NETWORK=host \
    run -0 "${project}/train_local.sh" eeg-hosts

  assert_output --partial "runner=docker image=eeg-hosts hosts=2"
  assert_line --regexp '^data: .* host=algo-1 \(1 of 2, replicated\)$'
  assert [ -s "${project}/test_dir/model/model.keras" ]
  run -0 tail -n 1 "${project}/test_dir/hosts/algo-2/train.log"
  assert_output "done: the model is written by algo-1"
  run docker network ls --format '{{.Name}}'
  refute_output --partial "eeg-local-"
}

@test "the image trains the second example, model=cnn, on recordings kept as channels and samples" {
  local tree
  tree="$(opt_ml 1)"
  echo '{"epochs": "1", "model": "cnn", "features": "recording"}' >"${tree}/input/config/hyperparameters.json"
  run -0 docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train
  assert_line --partial "training: model=eeg_cnn "
  assert [ -s "${tree}/model/model.keras" ]
}

@test "an image built from a copy ships the module the copy added to container/, with no other change" {
  local copy="${BATS_TEST_TMPDIR}/our project"
  mkdir -p "${copy}"
  git -C "${REPO_DIR}" ls-files -z --cached --others --exclude-standard |
    (cd "${REPO_DIR}" && xargs -0 cp --parents -t "${copy}" --)
  printf 'HIDDEN_UNITS = (32, 16)\n' >"${copy}/container/our_layers.py"
  sed -i -e 's/^from container import labels, ridge, transform$/from container import labels, our_layers, ridge, transform/' \
    -e 's/^HIDDEN_UNITS = .*/HIDDEN_UNITS = our_layers.HIDDEN_UNITS/' "${copy}/task.py"
  run -0 grep -c "our_layers" "${copy}/task.py"
  assert_output 2
  docker build --quiet --network host --build-arg BASE_IMAGE="${BASE_IMAGE}" --tag our-copy "${copy}" >/dev/null

  run -0 docker run --rm --network none --entrypoint ls our-copy /opt/program/container
  assert_line our_layers.py
  local tree
  tree="$(opt_ml 1)"
  echo '{"epochs": "1", "model": "mlp"}' >"${tree}/input/config/hyperparameters.json"
  run -0 docker run --rm --network none -v "${tree}:/opt/ml" our-copy train
  assert_line --regexp '^training: model=eeg_mlp parameters=[0-9]+ '
  assert [ -s "${tree}/model/model.keras" ]
  docker rmi our-copy >/dev/null
}

# make submit LOCAL=1 under SDK major $1: the local image trained for 2 epochs under Docker
# Compose; model.tar.gz, holding the model, is left in local_output/JOB/ with nothing but
# output.tar.gz beside it.
assert_local_mode_trains() {
  command -v docker-compose >/dev/null || docker compose version >/dev/null || fail "no Docker Compose: install docker-compose"
  docker tag "${IMAGE_URI}" eeg:latest  # local mode runs IMAGE:TAG as make build tags it

  local printed job
  printed="$(make --no-print-directory -C "${REPO_DIR}" submit LOCAL=1 SDK="$1" HYPERPARAMETERS="epochs=2 patience=0")" ||
    fail "make submit LOCAL=1 SDK=$1 failed: ${printed}"

  grep -qx "status: Completed" <<<"${printed}" || fail "no 'status: Completed' in: ${printed}"
  job="$(sed -n 's/^job: \(eeg-[0-9-]*\)$/\1/p' <<<"${printed}")"
  [[ -n "${job}" ]] || fail "no 'job: eeg-...' line in: ${printed}"
  assert [ -s "${REPO_DIR}/local_output/${job}/model.tar.gz" ]
  run -0 ls "${REPO_DIR}/local_output/${job}"
  assert_output "model.tar.gz
output.tar.gz"
  run -0 tar -tzf "${REPO_DIR}/local_output/${job}/model.tar.gz"
  assert_line --regexp '^(\./)?model\.keras$'
  assert_line --regexp '^(\./)?metadata\.json$'
  rm -rf "${REPO_DIR:?}/local_output/${job}"
}

@test "make submit LOCAL=1 trains the local image in SageMaker SDK v2's local mode, under Docker Compose" {
  assert_local_mode_trains 2
}

@test "make submit LOCAL=1 SDK=3 trains the local image in SDK v3's ModelTrainer local mode, under Docker Compose" {
  assert_local_mode_trains 3
}

# What the SDK local mode tests below read, made by the first of them to run and kept in
# SDK_DIR for the others (a local endpoint and two transforms start three containers): a model
# trained for 2 epochs, as model.tar.gz; rows.csv, the sample's test rows; classes, the class
# make predict gives each of them offline, in order; and out/, tests/sdk_local_mode.py's output.
sdk_local_mode() {
  SDK_DIR="${BATS_FILE_TMPDIR}/sdk-local-mode"
  [[ ! -e "${SDK_DIR}/done" ]] || return 0
  [[ ! -e "${SDK_DIR}" ]] || fail "the SDK local mode run failed in an earlier test: see its output"
  mkdir -p "${SDK_DIR}"
  local tree data
  tree="$(opt_ml 2)"
  data="${tree}/input/data/training/output_dict"
  docker run --rm --network none -v "${tree}:/opt/ml" "${IMAGE_URI}" train >/dev/null
  tar -czf "${SDK_DIR}/model.tar.gz" -C "${tree}/model" .
  test_rows_csv "${data}" >"${SDK_DIR}/rows.csv"
  # make predict reads the pickle's x_test itself (a CSV file would be training's, labels
  # first) and prints "row=N class=NAME probabilities={...} label=[...]" for each, then the accuracy.
  make --no-print-directory -C "${REPO_DIR}" predict MODEL="${SDK_DIR}/model.tar.gz" DATA="${data}" \
    >"${SDK_DIR}/predict.out"
  sed -n 's/^row=[0-9]* class=\([^ ]*\) .*$/\1/p' "${SDK_DIR}/predict.out" >"${SDK_DIR}/classes"
  docker tag "${IMAGE_URI}" eeg:local-mode
  PYTHONPATH="${REPO_DIR}" timeout 900 "${REPO_DIR}/.venv/bin/python" "${REPO_DIR}/tests/sdk_local_mode.py" \
    eeg:local-mode "${SDK_DIR}/model.tar.gz" "${SDK_DIR}/rows.csv" "${SDK_DIR}/out" \
    >"${SDK_DIR}/sdk.out" 2>"${SDK_DIR}/sdk.err" || {
    tail -30 "${SDK_DIR}/sdk.err" >&2
    return 1
  }
  touch "${SDK_DIR}/done"
}

# File $1 holds make predict's class for each test row: as many lines as rows, in their order,
# and no blank line (one between mini-batches, say).
assert_classes_of_make_predict() {
  local rows
  rows="$(grep -c '' "${SDK_DIR}/rows.csv")"
  run -0 grep -c '' "${SDK_DIR}/classes"
  assert_output "${rows}"
  run -0 diff "${SDK_DIR}/classes" "$1"
}

@test "the SDK's local mode serves the model from S3 and answers a Predictor with make predict's class for each test row" {
  sdk_local_mode
  "${VENV_PYTHON}" -c 'import json, sys; [print(json.loads(line)["class"]) for line in open(sys.argv[1])]' \
    "${SDK_DIR}/out/predictions.jsonl" >"${BATS_TEST_TMPDIR}/predictor.classes"
  assert_classes_of_make_predict "${BATS_TEST_TMPDIR}/predictor.classes"
}

@test "SDK local Batch Transform, SingleRecord, AssembleWith=Line: make predict's class for each test row, by line" {
  sdk_local_mode
  assert_classes_of_make_predict "${SDK_DIR}/out/single/rows.csv.out"
}

@test "SDK local Batch Transform, MultiRecord in 1 MB mini-batches, AssembleWith=Line: make predict's class for each test row, by line" {
  sdk_local_mode
  local size
  size="$(stat -c %s "${SDK_DIR}/rows.csv")"
  ((size > 1048576)) || fail "rows.csv is ${size} bytes: one mini-batch of 1 MB holds it, none is joined to another"
  assert_classes_of_make_predict "${SDK_DIR}/out/multi/rows.csv.out"
}
