SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --warn-undefined-variables --no-builtin-rules

# Every recipe works on paths relative to the repository (clean deletes some): from any other
# folder, make -f path/to/Makefile would act on that folder instead.
ifeq ($(filter Makefile ./Makefile $(CURDIR)/Makefile,$(lastword $(MAKEFILE_LIST))),)
$(error run make in the repository's folder, e.g. make -C $(dir $(lastword $(MAKEFILE_LIST))) TARGET)
endif

# Settings: override on the command line, e.g. make push IMAGE=eeg TAG=v1. Each has a
# "#> default | what it is" line above it, which make help lists.
#> eeg (aws/defaults.py) | the ECR repository, and the prefix of job names
IMAGE ?=
#> latest (push: also the git SHA) | the image tag
TAG ?=
#> this account's ECR | push: the registry host
REGISTRY ?=
#> python:3.11.14-slim-bookworm | the Dockerfile's base image
BASE_IMAGE ?=
#> 0 | 1 builds the GPU image
GPU ?=
#> docker if an engine answers, else native | local, serve-local: docker or native
RUNNER ?=
#> 1 | local: hosts training data-parallel, algo-1 ... algo-N
HOSTS ?=
#> python3 | the Python that creates .venv
PYTHON ?= python3
# make upload / make submit: empty means the script's default (see `python submit.py --help`)
#> test_dir/input/data/training (predict: its test rows) | upload, predict: a data file or folder
DATA ?=
#> sagemaker-REGION-ACCOUNT | the bucket of the default S3 paths
BUCKET ?=
#> $SAGEMAKER_ROLE | submit, tune, deploy: the IAM role ARN
ROLE ?=
#> ml.m5.large | training and hosting instance type
INSTANCE_TYPE ?=
#> 1 | instances per training job or endpoint
INSTANCE_COUNT ?=
#> training=s3://BUCKET/data/IMAGE/ | CHANNEL=URI pairs
INPUTS ?=
#> File | File or FastFile
INPUT_MODE ?=
#> replicated | submit, tune: the training channel's files to every instance, or sharded among them
DISTRIBUTION ?=
#> task.py's defaults | NAME=VALUE pairs
HYPERPARAMETERS ?=
#> s3://BUCKET/output | where jobs write model.tar.gz
OUTPUT_PATH ?=
#> IMAGE | job name prefix
JOB_NAME ?=
#> 86400 | seconds a job may run
MAX_RUN ?=
#> 2 x MAX_RUN | spot: seconds of run plus waiting
MAX_WAIT ?=
#> 30 | GB of storage per instance
VOLUME_SIZE ?=
#> 0 | 1: managed spot training
SPOT ?=
#> 0 | 1: sync TensorBoard files to S3
TENSORBOARD ?=
#> 1 | 0: return once the job or endpoint is created
WAIT ?=
#> 0 | 1 or gpu: SDK local mode
LOCAL ?=
#> 2 | submit, tune, deploy, undeploy: the SageMaker Python SDK's major, 2 or 3 (.venv-sdk3)
SDK ?=
#> 0 | 1: print the request, send nothing
DRY_RUN ?=
# make deploy / make undeploy: also IMAGE, ROLE, INSTANCE_TYPE, INSTANCE_COUNT, WAIT, DRY_RUN above
# and ENDPOINT below (the endpoint's name, as for predict)
#> the newest Completed job of IMAGE | deploy: whose model to host
TRAINING_JOB ?=
#> one per CPU | deploy: server processes
MODEL_SERVER_WORKERS ?=
#> 60 | deploy: seconds per request
MODEL_SERVER_TIMEOUT ?=
# make status / logs / stop: a training job (default the latest job of IMAGE); make plot reads it too
#> the newest job of IMAGE | status, logs, stop, plot: a training job
JOB ?=
# make moto: the port of the local moto server on 127.0.0.1. Never empty: moto_server itself
# reads MOTO_PORT, and every recipe (make test's moto servers too) sees the settings.
#> 5000 | moto: the port on 127.0.0.1
MOTO_PORT ?= 5000
# make tune: training jobs in all (default 10), at a time (default 2), and the ranges
# ("NAME=LOW:HIGH NAME=A,B"; default tune.py's DEFAULT_RANGES); the job settings above apply
#> 10 | tune: training jobs in all
MAX_JOBS ?=
#> 2 | tune: training jobs at a time
MAX_PARALLEL ?=
#> learning_rate, batch_size, patience | tune: NAME=LOW:HIGH or NAME=A,B
RANGES ?=
# make serve-local / make predict: the port on 127.0.0.1 (default 8080); predict's DATA
# (default the sample's test rows), ENDPOINT (a SageMaker endpoint) or MODEL (offline)
#> 8080 | serve-local, predict: the port on 127.0.0.1
PORT ?=
#> the job's name (deploy) | predict, deploy, undeploy: an endpoint
ENDPOINT ?=
#> none | predict: a model folder or model.tar.gz, offline
MODEL ?=
# make plot: the PNG's path (default learning_curves.png beside the run)
#> learning_curves.png beside the run | plot: the PNG
OUT ?=

VENV := .venv
BIN := $(VENV)/bin
# SDK=3: the SageMaker Python SDK v3 runs make submit, tune, deploy and undeploy from a
# virtualenv of its own (both majors import as sagemaker); .venv keeps v2, the default.
VENV_SDK3 := .venv-sdk3
ifneq ($(filter-out 2 3,$(SDK)),)
$(error SDK=$(SDK): use 2 (the default) or 3)
endif
SDK_PYTHON := $(if $(filter 3,$(SDK)),$(VENV_SDK3)/bin/python,$(BIN)/python)
SDK_VENV := $(if $(filter 3,$(SDK)),$(VENV_SDK3)/.installed)
BATS := node_modules/bats/bin/bats
# The project's own tooling adds its targets and settings; deleting tools/ removes them.
TOOL_SETTINGS :=
TOOL_VENVS :=
-include tools/tools.mk

# Settings reach the scripts as environment variables, never pasted into a command line, so a
# value arrives exactly as given, whatever quotes, $, ` or ; it holds. $(value ...) takes a
# value as typed: Make does not expand a $(shell ...) inside it either.
SETTINGS := PYTHON IMAGE TAG REGISTRY BASE_IMAGE GPU RUNNER DATA BUCKET ROLE INSTANCE_TYPE INSTANCE_COUNT \
  INPUTS HYPERPARAMETERS OUTPUT_PATH JOB_NAME MAX_RUN MAX_WAIT VOLUME_SIZE SPOT WAIT LOCAL DRY_RUN \
  TRAINING_JOB MODEL_SERVER_WORKERS MODEL_SERVER_TIMEOUT
SETTINGS += PORT ENDPOINT MODEL INPUT_MODE TENSORBOARD OUT HOSTS
SETTINGS += JOB MOTO_PORT MAX_JOBS MAX_PARALLEL RANGES DISTRIBUTION $(TOOL_SETTINGS)
$(foreach name,$(SETTINGS),$(eval override $(name) := $$(value $(name))))
export $(SETTINGS)

export PATH := $(abspath $(BIN)):$(PATH)

# Each option and its value are one word, --option="$${VAR}": a value that starts with '-' is
# still the option's value (and the script's error names it), never an option of its own.
# The training job's options, which make submit and make tune share.
JOB_OPTIONS = --image="$${IMAGE}" --tag="$${TAG}" --role="$${ROLE}" --bucket="$${BUCKET}" \
  --instance-type="$${INSTANCE_TYPE}" --instance-count="$${INSTANCE_COUNT}" --distribution="$${DISTRIBUTION}" \
  --inputs="$${INPUTS}" --input-mode="$${INPUT_MODE}" --hyperparameters="$${HYPERPARAMETERS}" \
  --output-path="$${OUTPUT_PATH}" --job-name="$${JOB_NAME}" --max-run="$${MAX_RUN}" --max-wait="$${MAX_WAIT}" \
  --volume-size="$${VOLUME_SIZE}" --spot="$${SPOT}" --tensorboard="$${TENSORBOARD}" --local="$${LOCAL}" \
  --dry-run="$${DRY_RUN}"

##@ Run

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } \
	  /^#> / { split(substr($$0, 4), doc, " [|] ") } \
	  /^[A-Z_]+ [?]= ?/ && doc[1] != "" { settings = settings sprintf("  \033[36m%-21s\033[0m %s (default: %s)\n", substr($$0, 1, index($$0, " ") - 1), doc[2], doc[1]); doc[1] = "" } \
	  END { printf "\n\033[1mSettings\033[0m: make TARGET NAME=value, e.g. make push IMAGE=eeg TAG=v1\n%s", settings }' $(MAKEFILE_LIST)

.PHONY: local
local: $(VENV)/.installed ## Train on the bundled sample: in Docker when an engine answers, natively otherwise (RUNNER=docker|native, HOSTS=N)
	./train_local.sh "$${IMAGE}"

.PHONY: sample-data
sample-data: $(VENV)/.installed ## Regenerate test_dir/input/data/training/output_dict (the original's name)
	$(BIN)/python tests/make_sample_data.py

##@ Serve

.PHONY: serve-local
serve-local: $(VENV)/.installed ## Serve test_dir/model on 127.0.0.1:8080: in Docker when an engine answers, natively otherwise (PORT, RUNNER)
	./serve_local.sh "$${IMAGE}"

.PHONY: predict
predict: $(VENV)/.installed ## Predict DATA (default the sample's test rows) on the local server, ENDPOINT=name or MODEL=path
	$(BIN)/python -m aws.predict --port="$${PORT}" --endpoint="$${ENDPOINT}" --model="$${MODEL}" -- $${DATA:+"$${DATA}"}

.PHONY: plot
plot: $(VENV)/.installed ## Learning curves as a PNG: make local's run, or JOB=name's output from S3 (OUT=path)
	$(BIN)/python -m aws.plot --job="$${JOB}" --out="$${OUT}"

##@ Ship to SageMaker

.PHONY: build
build: ## Build the image locally for linux/amd64 (IMAGE, TAG, BASE_IMAGE, GPU=1)
	./build_and_push.sh --build-only "$${IMAGE}" "$${TAG}"

.PHONY: push
push: $(VENV)/.installed ## Build for linux/amd64 and push to ECR (IMAGE, TAG, REGISTRY, BASE_IMAGE, GPU=1)
	./build_and_push.sh "$${IMAGE}" "$${TAG}"

.PHONY: upload
upload: $(VENV)/.installed ## Upload the training data to s3://BUCKET/data/IMAGE/ and print the URI (DATA, BUCKET)
	$(BIN)/python -m aws.upload --image="$${IMAGE}" --data="$${DATA}" --bucket="$${BUCKET}"

.PHONY: submit
submit: $(VENV)/.installed $(SDK_VENV) ## Launch the SageMaker training job (ROLE=arn:aws:iam::..., INSTANCE_COUNT=N, DISTRIBUTION=sharded, INPUT_MODE=FastFile, SPOT=1, TENSORBOARD=1, WAIT=0, LOCAL=1, DRY_RUN=1, SDK=3)
	$(SDK_PYTHON) submit.py $(JOB_OPTIONS) --wait="$${WAIT}"

.PHONY: deploy
deploy: $(VENV)/.installed $(SDK_VENV) ## Host a Completed job's model on an endpoint (ROLE=..., TRAINING_JOB, ENDPOINT, WAIT=0, DRY_RUN=1, SDK=3)
	$(SDK_PYTHON) -m aws.deploy --image="$${IMAGE}" --training-job="$${TRAINING_JOB}" --role="$${ROLE}" \
	  --instance-type="$${INSTANCE_TYPE}" --instance-count="$${INSTANCE_COUNT}" --endpoint="$${ENDPOINT}" \
	  --model-server-workers="$${MODEL_SERVER_WORKERS}" --model-server-timeout="$${MODEL_SERVER_TIMEOUT}" \
	  --wait="$${WAIT}" --dry-run="$${DRY_RUN}"

.PHONY: undeploy
undeploy: $(VENV)/.installed $(SDK_VENV) ## Delete ENDPOINT, its endpoint config and its model (ENDPOINT=NAME, DRY_RUN=1, SDK=3)
	$(SDK_PYTHON) -m aws.deploy --undeploy --endpoint="$${ENDPOINT}" --dry-run="$${DRY_RUN}"

.PHONY: tune
tune: $(VENV)/.installed $(SDK_VENV) ## Tune hyperparameters for task.py's TUNING objective (ROLE, MAX_JOBS, MAX_PARALLEL, RANGES, DRY_RUN=1, SDK=3)
	$(SDK_PYTHON) -m aws.tune $(JOB_OPTIONS) --ranges="$${RANGES}" --max-jobs="$${MAX_JOBS}" \
	  --max-parallel="$${MAX_PARALLEL}"

##@ Jobs

.PHONY: status
status: $(VENV)/.installed ## A job's status, times, instance, final metrics and model (JOB, default the latest of IMAGE)
	$(BIN)/python -m aws.jobs status --image="$${IMAGE}" --job="$${JOB}"

.PHONY: logs
logs: $(VENV)/.installed ## Print a job's CloudWatch log, following it while the job runs (JOB)
	$(BIN)/python -m aws.jobs logs --image="$${IMAGE}" --job="$${JOB}"

.PHONY: stop
stop: $(VENV)/.installed ## Stop a running job (JOB, default the latest of IMAGE)
	$(BIN)/python -m aws.jobs stop --image="$${IMAGE}" --job="$${JOB}"

.PHONY: jobs
jobs: $(VENV)/.installed ## The 20 newest jobs of IMAGE, newest first, with status and final metrics
	$(BIN)/python -m aws.jobs list --image="$${IMAGE}"

##@ Try offline

.PHONY: moto
moto: $(VENV)/.installed ## Run a local moto server (the AWS API stand-in) until Ctrl-C; prints what to export (MOTO_PORT)
	./aws/moto_local.sh

##@ Development

.PHONY: test
test: $(VENV)/.installed $(VENV_SDK3)/.installed node_modules/.installed ## Run the tests (pytest and bats; starts and stops its own moto server); ends with their count
	./tests/run.sh

.PHONY: test-container
test-container: $(VENV)/.installed node_modules/.installed ## Container tests: real Docker engine, registry and moto (root, Linux)
	$(BATS) --timing tests/container


.PHONY: lint
lint: $(VENV)/.installed ## Check shell scripts, Python and the Dockerfile (shellcheck, ruff, hadolint)
	$(BIN)/shellcheck train serve *.sh aws/*.sh .ci/run tests/*.sh tests/*.bash tests/*.bats tests/container/* tests/stubs/*
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/hadolint Dockerfile

.PHONY: clean
clean: ## Remove what local runs wrote into test_dir, and the caches (keeps .venv)
	rm -rf ./test_dir/model/* ./test_dir/output/* ./test_dir/checkpoints ./.pytest_cache ./.ruff_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -not -path './$(VENV_SDK3)/*' $(foreach venv,$(TOOL_VENVS),-not -path './$(venv)/*') -prune -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## Also remove .venv, .venv-sdk3, node_modules and the tooling's virtualenvs
	rm -rf ./$(VENV) ./$(VENV_SDK3) ./node_modules $(addprefix ./,$(TOOL_VENVS))

$(VENV)/.installed: requirements.txt requirements-dev.txt
	"$${PYTHON}" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

$(VENV_SDK3)/.installed: requirements-sdk3.txt
	"$${PYTHON}" -m venv $(VENV_SDK3)
	$(VENV_SDK3)/bin/python -m pip install --quiet --upgrade pip
	$(VENV_SDK3)/bin/python -m pip install --quiet -r requirements-sdk3.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@
