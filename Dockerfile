# The training image. SageMaker starts it as `docker run IMAGE train`; `docker run IMAGE`
# trains too (CMD), as SDK v3's local mode and some runners pass no argument.
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
      org.opencontainers.image.description="Keras EEG classifier trained as a SageMaker bring-your-own container" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Unbuffered output reaches CloudWatch as it is printed; no .pyc files in the image.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/program:/opt/venv/bin:${PATH}"

# A virtualenv keeps pip away from the base image's own Python packages (PEP 668).
COPY requirements.txt requirements-gpu.txt /tmp/requirements/
RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir -r "/tmp/requirements/${REQUIREMENTS}" \
    && rm -rf /tmp/requirements

# The program last: code changes rebuild only this layer. train keeps its run bit even
# from a checkout that lost it.
COPY train train.py sagemaker_env.py eeg_data.py data_formats.py safe_pickle.py memory_budget.py transform.py \
     checkpoint.py job_outputs.py /opt/program/
RUN chmod 755 /opt/program/train
WORKDIR /opt/program

CMD ["train"]
