#!/usr/bin/env bash
# Usage: build_and_push.sh [--build-only] [IMAGE [TAG]]
# Builds the training image for linux/amd64 and pushes it to ECR in the current account and
# region, tagged latest and TAG (default: the git short SHA, with -dirty when tracked files
# have changes). Creates the repository IMAGE, with scan-on-push, if it is missing. The last
# line on stdout is the pushed image's URI (REGISTRY/IMAGE@sha256:... where the registry
# reports a digest); progress goes to stderr. --build-only builds IMAGE:latest and IMAGE:TAG
# locally and needs no AWS. IMAGE defaults to aws/defaults.py's (eeg).
#
# Environment:
#   AWS_REGION, AWS_DEFAULT_REGION  the region (else `aws configure get region`; no default)
#   REGISTRY=host[:port]            push there instead of <account>.dkr.ecr.<region>.amazonaws.com
#                                   (it is sent the ECR login token: name only hosts you trust)
#   BASE_IMAGE=...                  docker build --build-arg BASE_IMAGE (see the Dockerfile)
#   GPU=1                           build the GPU image (--build-arg REQUIREMENTS=requirements-gpu.txt)
#   DOCKER_BUILD_NETWORK=host       docker build --network (for engines without a bridge)
set -euo pipefail

readonly PROGRAM="build_and_push"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly REPO_DIR
# ECR's rules for repository names (CreateRepository's pattern, 2 to 256 characters).
readonly ECR_NAME='^([a-z0-9]+([._-][a-z0-9]+)*/)*[a-z0-9]+([._-][a-z0-9]+)*$'
readonly DOCKER_TAG='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
export AWS_PAGER="" # AWS CLI v2 would page its output

usage() {
  sed -n '2,/^set -/p' "$0" | sed -e '/^set -/d' -e 's/^# \{0,1\}//'
}

abort() {
  echo "${PROGRAM}: $*" >&2
  exit 1
}

log() {
  echo "${PROGRAM}: $*" >&2
}

# Runs one step with its output on stderr; a failure names the step and stops everything after it.
step() {
  local name="$1"
  shift
  log "${name}"
  "$@" >&2 || abort "${name} failed (see the messages above); nothing was pushed after it"
}

check_docker() {
  command -v docker >/dev/null || abort "docker not found on PATH: install Docker (docs.docker.com/get-docker)"
  docker info >/dev/null 2>&1 || abort "the Docker daemon is not answering ('docker info' fails): start Docker"
}

default_tag() {
  local sha
  sha="$(git -C "${REPO_DIR}" rev-parse --short HEAD 2>/dev/null)" ||
    abort "no TAG given and ${REPO_DIR} is not a git checkout with a commit: pass TAG"
  if [[ -n "$(git -C "${REPO_DIR}" status --porcelain --untracked-files=no)" ]]; then
    sha+="-dirty"
  fi
  echo "${sha}"
}

aws_region() {
  local region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  [[ -n "${region}" ]] || region="$(aws configure get region 2>/dev/null || true)"
  [[ -n "${region}" ]] || abort "no AWS region (set AWS_REGION or run 'aws configure set region REGION')"
  echo "${region}"
}

aws_account() {
  local region="$1"
  aws sts get-caller-identity --region "${region}" --query Account --output text 2>/dev/null ||
    abort "no AWS credentials ('aws sts get-caller-identity' fails): run 'aws configure' or 'aws sso login', or set AWS_PROFILE"
}

ensure_repository() {
  local name="$1" region="$2"
  if aws ecr describe-repositories --region "${region}" --repository-names "${name}" >/dev/null 2>&1; then
    log "repository ${name} exists"
  else
    aws ecr create-repository --region "${region}" --repository-name "${name}" \
      --image-scanning-configuration scanOnPush=true >/dev/null &&
      log "repository ${name} created, with scan on push"
  fi
}

login() {
  local region="$1" registry="$2"
  # The token goes through a pipe, never through a command line that ps can show.
  aws ecr get-login-password --region "${region}" |
    docker login --username AWS --password-stdin "${registry}"
}

build() {
  local args=(--platform linux/amd64)
  [[ -n "${BASE_IMAGE:-}" ]] && args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
  [[ "${GPU:-}" == 1 ]] && args+=(--build-arg REQUIREMENTS=requirements-gpu.txt)
  [[ -n "${DOCKER_BUILD_NETWORK:-}" ]] && args+=(--network "${DOCKER_BUILD_NETWORK}")
  if docker buildx version >/dev/null 2>&1; then
    # No provenance attestation: it turns the image into an OCI index that SageMaker rejects.
    docker buildx build "${args[@]}" --provenance=false --load "$@" "${REPO_DIR}"
  else
    docker build "${args[@]}" "$@" "${REPO_DIR}"
  fi
}

main() {
  local build_only=""
  case "${1:-}" in
  -h | --help) usage && exit 0 ;;
  --build-only) build_only=1 && shift ;;
  -*) usage >&2 && exit 2 ;;
  esac
  [[ $# -le 2 ]] || { usage >&2; exit 2; }
  local image="${1:-}"
  # the image's default name is the host commands' own (aws/defaults.py)
  [[ -n "${image}" ]] || image="$(cd "${REPO_DIR}" && python3 -m aws.defaults IMAGE)"
  [[ "${image}" =~ ${ECR_NAME} && ${#image} -ge 2 && ${#image} -le 256 ]] ||
    abort "IMAGE '${image}' is not a valid ECR repository name (lowercase letters, digits, and . _ - / between them)"
  [[ "${GPU:-0}" =~ ^[01]?$ ]] || abort "GPU=${GPU} is not 1 or 0"
  check_docker
  local tag="${2:-}"
  [[ -n "${tag}" ]] || tag="$(default_tag)"
  [[ "${tag}" =~ ${DOCKER_TAG} && "${tag}" != latest ]] ||
    abort "TAG '${tag}' is not a valid immutable Docker tag (letters, digits, _ . -; not 'latest')"

  if [[ -n "${build_only}" ]]; then
    step "build ${image}:${tag}" build --tag "${image}:${tag}" --tag "${image}:latest"
    echo "${image}:${tag}"
    return
  fi
  command -v aws >/dev/null || abort "aws (the AWS CLI) not found on PATH: install it (make does, into .venv)"
  local region account registry suffix="amazonaws.com"
  region="$(aws_region)"
  account="$(aws_account "${region}")"
  [[ "${region}" == cn-* ]] && suffix="amazonaws.com.cn"
  registry="${REGISTRY:-${account}.dkr.ecr.${region}.${suffix}}"
  if [[ ! "${registry}" =~ \.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ ]]; then
    log "warning: ${registry} is not an ECR registry, yet it receives this account's ECR login token"
  fi
  local repository="${registry}/${image}"
  log "account ${account}, region ${region}, pushing ${repository}:${tag} and :latest"

  step "repository ${image} in ${region}" ensure_repository "${image}" "${region}"
  step "login to ${registry}" login "${region}" "${registry}"
  step "build ${repository}:${tag}" build --tag "${repository}:${tag}" --tag "${repository}:latest" \
    --tag "${image}:${tag}" --tag "${image}:latest"
  # The immutable tag first: latest moves only once the image it names is there.
  step "push ${repository}:${tag}" docker push "${repository}:${tag}"
  step "push ${repository}:latest" docker push "${repository}:latest"
  local digest="" line
  while read -r line; do
    if [[ "${line}" == "${repository}@sha256:"* ]]; then digest="${line}" && break; fi
  done < <(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "${repository}:${tag}")
  echo "${digest:-${repository}:${tag}}"
}

main "$@"
