# The training and serving image. SageMaker starts it as `docker run IMAGE train` for a
# training job and `docker run IMAGE serve` for an endpoint or Batch Transform;
# `docker run IMAGE` trains (CMD), as SDK v3's local mode and some runners pass no argument.
#
# BASE_IMAGE: a slim Debian Python of the same minor version as the tested virtualenv
# (3.11). With the pinned requirements.txt, the image holds the environment the tests ran
# in, at a fraction of a deep-learning container's size. Any image with python3 and its
# venv module works (tests build one with debootstrap).
# REQUIREMENTS: requirements-gpu.txt for the GPU image (TensorFlow with CUDA wheels).
ARG BASE_IMAGE=python:3.11.14-slim-bookworm
FROM ${BASE_IMAGE}
ARG BASE_IMAGE

ARG REQUIREMENTS=requirements.txt

LABEL org.opencontainers.image.title="eeg-training" \
      org.opencontainers.image.description="Keras EEG classifier trained and served as a SageMaker bring-your-own container" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Unbuffered output reaches CloudWatch as it is printed; no .pyc files in the image.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/program:/opt/venv/bin:${PATH}"

# A virtualenv keeps pip away from the base image's own Python packages (PEP 668).
# What training never loads goes in the same layer as the install (a later layer would only
# hide it), about 600 MB of the CPU image:
# - tensorflow/include: C++ headers, for compiling custom ops;
# - libclang: used by TensorFlow's build tools; no module imports clang;
# - folders named tests: the packages' own test suites (absl/testing and numpy/testing
#   are imported, so they stay);
# - pip, setuptools and wheel: installers; nothing is installed at run time;
# - static symbol tables of TensorFlow's libraries (strip): the dynamic linker reads only
#   the dynamic ones, which stay. binutils, which provides strip, leaves in this layer too.
# The .pyc files stay: without them each start compiles TensorFlow anew (about 8 s).
COPY requirements.txt requirements-gpu.txt /tmp/requirements/
# hadolint ignore=DL3008
RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir -r "/tmp/requirements/${REQUIREMENTS}" \
    && site="$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    && rm -rf "${site}/tensorflow/include" \
    && find "${site}" -type d -name tests -prune -exec rm -rf {} + \
    && pip uninstall --yes libclang pip setuptools wheel \
    && apt-get update \
    && apt-get install --yes --no-install-recommends binutils \
    && find "${site}/tensorflow" -type f -name '*.so*' -exec strip --strip-unneeded {} + \
    && apt-get purge --yes --auto-remove binutils \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /tmp/requirements

# The program last: code changes rebuild only this layer. The four files a user knows by
# name, then container/ whole: a module added there needs no change here. train and serve
# keep their run bits even from a checkout that lost them.
COPY train serve train.py task.py /opt/program/
COPY container /opt/program/container/
RUN chmod 755 /opt/program/train /opt/program/serve
WORKDIR /opt/program

CMD ["train"]
