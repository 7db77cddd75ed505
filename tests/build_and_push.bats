#!/usr/bin/env bats
# build_and_push.sh against a real moto server (STS, ECR) and a stub docker that records
# its arguments and stdin in $STUB_LOG (tests/stubs/docker).

load '../node_modules/bats-support/load'
load '../node_modules/bats-assert/load'
load 'moto'
bats_require_minimum_version 1.5.0

SCRIPT="${BATS_TEST_DIRNAME}/../build_and_push.sh"
ECR="123456789012.dkr.ecr.us-west-2.amazonaws.com"
DIGEST="sha256:0000000000000000000000000000000000000000000000000000000000000000"

setup_file() {
  start_moto
  export PATH="${BATS_TEST_DIRNAME}/stubs:${BATS_TEST_DIRNAME}/../.venv/bin:${PATH}"
  # One push that most tests read: the happy path, with its stdout, stderr and docker calls.
  export PUSHED="${BATS_FILE_TMPDIR}/pushed"
  mkdir -p "${PUSHED}"
  STUB_LOG="${PUSHED}/docker.log" "${SCRIPT}" eeg v1 >"${PUSHED}/stdout" 2>"${PUSHED}/stderr"
}

teardown_file() {
  stop_moto
}

setup() {
  reset_moto
  export STUB_LOG="${BATS_TEST_TMPDIR}/docker.log"
  touch "${STUB_LOG}"
  unset REGISTRY BASE_IMAGE GPU DOCKER_BUILD_NETWORK STUB_DOCKER_INFO_RC STUB_DOCKER_BUILDX STUB_DOCKER_FAIL
}

# A PATH with only what build_and_push.sh calls, minus $1: proves the check for a missing tool.
path_without() {
  local bin="${BATS_TEST_TMPDIR}/bin" tool
  mkdir -p "${bin}"
  for tool in bash dirname git sed aws docker; do
    [[ "${tool}" == "$1" ]] || ln -s "$(command -v "${tool}")" "${bin}/${tool}"
  done
  echo "${bin}"
}

# The script, copied into a fresh git repository with one commit (for the default TAG).
script_in_git_repository() {
  local repository="${BATS_TEST_TMPDIR}/repository"
  mkdir -p "${repository}"
  cp "${SCRIPT}" "${repository}/"
  git -C "${repository}" init --quiet
  git -C "${repository}" add build_and_push.sh
  git -C "${repository}" -c user.name=test -c user.email=test@example.com commit --quiet -m one
  echo "${repository}"
}

@test "--help prints the usage and exits 0" {
  run -0 "${SCRIPT}" --help
  assert_line --index 0 "Usage: build_and_push.sh [--build-only] [IMAGE [TAG]]"
}

@test "more than IMAGE and TAG prints the usage and fails" {
  run -2 "${SCRIPT}" eeg v1 extra
  assert_output --partial "Usage: build_and_push.sh"
}

@test "without IMAGE the image is aws/defaults.py's" {
  local repository
  repository="$(script_in_git_repository)"
  cp -r "${BATS_TEST_DIRNAME}/../aws" "${repository}/"
  sed -i 's/^IMAGE = .*/IMAGE = "my-model"/' "${repository}/aws/defaults.py"

  run -0 --separate-stderr "${repository}/build_and_push.sh" --build-only "" v1

  assert_output "my-model:v1"
}

@test "push prints only the image URI with its digest on stdout" {
  run cat "${PUSHED}/stdout"
  assert_output "${ECR}/eeg@${DIGEST}"
}

@test "push reports its progress on stderr" {
  run cat "${PUSHED}/stderr"
  assert_line "build_and_push: login to ${ECR}"
  assert_line "build_and_push: push ${ECR}/eeg:latest"
}

@test "push logs in with the ECR token on stdin, never as an argument" {
  run cat "${PUSHED}/docker.log"
  assert_line "docker login --username AWS --password-stdin ${ECR}"
  local token
  token="$(aws ecr get-login-password --region us-west-2)"
  assert_line "stdin: ${token}"
  refute_line --regexp "^docker .*${token}"
}

@test "push builds for linux/amd64 with both tags" {
  run cat "${PUSHED}/docker.log"
  assert_line --regexp "^docker build --platform linux/amd64 --tag ${ECR}/eeg:v1 --tag ${ECR}/eeg:latest .* /.*$"
}

@test "push pushes the immutable tag, then latest" {
  run grep '^docker push' "${PUSHED}/docker.log"
  assert_output "docker push ${ECR}/eeg:v1
docker push ${ECR}/eeg:latest"
}

@test "push creates the repository with scan-on-push once and reuses it" {
  run -0 "${SCRIPT}" eeg v1
  assert_line "build_and_push: repository eeg created, with scan on push"
  run -0 "${SCRIPT}" eeg v2
  assert_line "build_and_push: repository eeg exists"
  run aws ecr describe-repositories --region us-west-2 --output text \
    --query 'repositories[].[repositoryName,imageScanningConfiguration.scanOnPush]'
  assert_output "eeg	True"
}

@test "push in cn-north-1 uses the amazonaws.com.cn registry" {
  AWS_REGION=cn-north-1 run -0 --separate-stderr "${SCRIPT}" eeg v1
  assert_output "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/eeg@${DIGEST}"
  run cat "${STUB_LOG}"
  assert_line "docker login --username AWS --password-stdin 123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn"
}

@test "push to REGISTRY replaces the ECR host" {
  REGISTRY=127.0.0.1:5000 run -0 --separate-stderr "${SCRIPT}" eeg v1
  assert_output "127.0.0.1:5000/eeg@${DIGEST}"
  run grep '^docker push' "${STUB_LOG}"
  assert_output "docker push 127.0.0.1:5000/eeg:v1
docker push 127.0.0.1:5000/eeg:latest"
}

@test "push to a REGISTRY that is not ECR warns that it is sent the ECR login token" {
  REGISTRY=127.0.0.1:5000 run -0 --separate-stderr "${SCRIPT}" eeg v1
  [[ "${stderr}" == *"warning: 127.0.0.1:5000 is not an ECR registry, yet it receives this account's ECR login token"* ]]
}

@test "push to ECR gives no registry warning" {
  run -0 --separate-stderr "${SCRIPT}" eeg v1
  [[ "${stderr}" != *"warning:"* ]]
}

@test "push takes the region from AWS_REGION before AWS_DEFAULT_REGION" {
  AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=us-east-1 run -0 --separate-stderr "${SCRIPT}" eeg v1
  assert_output "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eeg@${DIGEST}"
}

@test "push takes the region from the AWS config when the environment has none" {
  printf '[default]\nregion = ap-south-1\n' >"${BATS_TEST_TMPDIR}/config"
  AWS_CONFIG_FILE="${BATS_TEST_TMPDIR}/config" AWS_DEFAULT_REGION="" run -0 --separate-stderr "${SCRIPT}" eeg v1
  assert_output "123456789012.dkr.ecr.ap-south-1.amazonaws.com/eeg@${DIGEST}"
}

@test "build passes BASE_IMAGE, GPU=1 and DOCKER_BUILD_NETWORK to docker build" {
  BASE_IMAGE=local/python:3.11 GPU=1 DOCKER_BUILD_NETWORK=host run -0 "${SCRIPT}" --build-only eeg v1
  run cat "${STUB_LOG}"
  assert_line --regexp "^docker build --platform linux/amd64 --build-arg BASE_IMAGE=local/python:3.11 --build-arg REQUIREMENTS=requirements-gpu.txt --network host "
}

@test "build with buildx turns provenance off and loads the image" {
  STUB_DOCKER_BUILDX=1 run -0 "${SCRIPT}" --build-only eeg v1
  run cat "${STUB_LOG}"
  assert_line --regexp "^docker buildx build --platform linux/amd64 --provenance=false --load --tag eeg:v1 --tag eeg:latest "
}

@test "build-only tags the image locally, prints IMAGE:TAG and calls no AWS" {
  run -0 --separate-stderr env PATH="$(path_without aws)" "${SCRIPT}" --build-only eeg v1
  assert_output "eeg:v1"
  run grep -c '^docker push' "${STUB_LOG}"
  assert_output 0
}

@test "the default TAG is the git short SHA" {
  local repository
  repository="$(script_in_git_repository)"
  run -0 --separate-stderr "${repository}/build_and_push.sh" --build-only eeg
  assert_output "eeg:$(git -C "${repository}" rev-parse --short HEAD)"
}

@test "the default TAG ends in -dirty when a tracked file has changed" {
  local repository
  repository="$(script_in_git_repository)"
  echo "# changed" >>"${repository}/build_and_push.sh"
  run -0 --separate-stderr "${repository}/build_and_push.sh" --build-only eeg
  assert_output "eeg:$(git -C "${repository}" rev-parse --short HEAD)-dirty"
}

@test "push fails with a clear message when docker is missing" {
  run -1 env PATH="$(path_without docker)" "${SCRIPT}" eeg v1
  assert_output --partial "build_and_push: docker not found on PATH"
}

@test "push fails with a clear message when the Docker daemon does not answer" {
  STUB_DOCKER_INFO_RC=1 run -1 "${SCRIPT}" eeg v1
  assert_output --partial "build_and_push: the Docker daemon is not answering"
  run grep -c '^docker push' "${STUB_LOG}"
  assert_output 0
}

@test "push fails with a clear message when aws is missing" {
  run -1 env PATH="$(path_without aws)" "${SCRIPT}" eeg v1
  assert_output --partial "build_and_push: aws (the AWS CLI) not found on PATH"
}

@test "push fails with a clear message when there are no AWS credentials" {
  run -1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "${SCRIPT}" eeg v1
  assert_output --partial "build_and_push: no AWS credentials ('aws sts get-caller-identity' fails): run 'aws configure'"
  run grep -c '^docker push' "${STUB_LOG}"
  assert_output 0
}

@test "push fails with a clear message when there is no region, rather than guessing one" {
  run -1 env -u AWS_DEFAULT_REGION "${SCRIPT}" eeg v1
  assert_output "build_and_push: no AWS region (set AWS_REGION or run 'aws configure set region REGION')"
}

@test "push refuses an IMAGE that breaks ECR's repository-name rules" {
  local image
  for image in Eeg eeg/ eeg- eeg..x e "eeg x" "$(printf 'a%.0s' {1..257})"; do
    run -1 "${SCRIPT}" "${image}" v1
    assert_output --partial "is not a valid ECR repository name"
  done
  run grep -c '^docker' "${STUB_LOG}"
  assert_output 0
}

@test "push refuses 'latest' as the immutable TAG" {
  run -1 "${SCRIPT}" eeg latest
  assert_output --partial "TAG 'latest' is not a valid immutable Docker tag"
}

@test "a failed login stops before the build and pushes nothing" {
  STUB_DOCKER_FAIL="login *" run -1 "${SCRIPT}" eeg v1
  assert_line "build_and_push: login to ${ECR} failed (see the messages above); nothing was pushed after it"
  run grep -E -c '^docker (build|push)' "${STUB_LOG}"
  assert_output 0
}

@test "a failed build pushes nothing" {
  STUB_DOCKER_FAIL="build *" run -1 "${SCRIPT}" eeg v1
  assert_line --partial "build_and_push: build ${ECR}/eeg:v1 failed"
  run grep -c '^docker push' "${STUB_LOG}"
  assert_output 0
}

@test "a failed push of the immutable tag leaves latest alone" {
  STUB_DOCKER_FAIL="push *:v1" run -1 --separate-stderr "${SCRIPT}" eeg v1
  assert_output ""
  run grep '^docker push' "${STUB_LOG}"
  assert_output "docker push ${ECR}/eeg:v1"
}
