"""Property-based: whatever a channel or a config file holds, the answer is data or one UserError.

Random and mutated inputs go through the readers in-process (hundreds of cases in seconds),
and a few through ./train end to end, where the contract is checked whole: never a hang,
never an exit without one failure line, never a model left behind.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import subprocess
from pathlib import Path
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import new_opt_ml
from container import labels, recordings, safe_pickle, sagemaker_env, transform
from container.loop import training_batch_size
from container.memory_budget import Budget
from container.sagemaker_env import (
    Paths,
    UserError,
    input_data_config,
    parse_hyperparameters,
    resource_config,
)
from task import ACCEPTED, HYPERPARAMETERS

QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BUDGET_BYTES = 64 * 2**20


def valid_files() -> dict[str, bytes]:
    """One small valid file of each format, for hypothesis to truncate and corrupt."""
    x, y = np.arange(12, dtype=np.float32).reshape(4, 3), np.array([0, 1, 1, 0])
    npz, npy = io.BytesIO(), io.BytesIO()
    np.savez(npz, x_train=x, y_train=y)
    np.save(npy, x)
    return {
        "output_dict": pickle.dumps({"x_train": x, "y_train2": np.eye(2)[y]}),
        "eeg.npz": npz.getvalue(),
        "x_train.npy": npy.getvalue(),
        "train.csv": b"0,1,2,3\n1,4,5,6\n",
    }


@st.composite
def damaged_files(draw: st.DrawFn) -> tuple[str, bytes]:
    name, content = draw(st.sampled_from(sorted(valid_files().items())))
    damage = draw(st.sampled_from(["truncate", "flip", "insert", "random"]))
    if damage == "random":
        return name, draw(st.binary(max_size=600))
    position = draw(st.integers(0, max(len(content) - 1, 0)))
    if damage == "truncate":
        return name, content[:position]
    if damage == "flip":
        return name, content[:position] + bytes([content[position] ^ draw(st.integers(1, 255))]) + content[
            position + 1 :
        ]
    return name, content[:position] + draw(st.binary(min_size=1, max_size=16)) + content[position:]


def read_or_refuse(folder: Path) -> None:
    try:
        recordings.read_channel(folder, "training", "", Budget(BUDGET_BYTES * 4, "test"))
    except UserError as error:
        assert str(error) and "\n" not in str(error).strip()


@QUICK
@given(file=damaged_files())
def test_a_damaged_file_of_any_format_is_read_or_refused_with_one_line(tmp_path_factory, file):
    folder = tmp_path_factory.mktemp("channel")
    (folder / file[0]).write_bytes(file[1])

    read_or_refuse(folder)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
pickled_values = st.recursive(
    scalars | hnp.arrays(hnp.scalar_dtypes(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@QUICK
@given(
    value=st.dictionaries(st.sampled_from(["x_train", "y_train2", "x_test", "y_test", "z"]), pickled_values)
)
def test_any_pickled_dict_of_plain_data_is_read_or_refused_with_one_line(tmp_path_factory, value):
    folder = tmp_path_factory.mktemp("channel")
    (folder / "output_dict").write_bytes(pickle.dumps(value))

    read_or_refuse(folder)


@QUICK
@given(
    x=hnp.arrays(
        st.sampled_from([np.float64, np.float32, np.int64, np.uint8]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5),
    ),
    y=hnp.arrays(st.sampled_from([np.float64, np.int64, np.bool_]), hnp.array_shapes(max_dims=2, max_side=5)),
)
def test_arrays_of_any_shape_and_value_are_read_or_refused_and_labels_checked(tmp_path_factory, x, y):
    folder = tmp_path_factory.mktemp("channel")
    np.savez(folder / "eeg.npz", x_train=x, y_train=y)
    try:
        rows = recordings.read_channel(folder, "training", "", Budget(BUDGET_BYTES * 4, "test")).train
        ids = labels.class_values(rows.y, "training")
    except UserError:
        return
    assert rows.x.ndim in (2, 3) and rows.x[0].size > 0 and np.isfinite(rows.x).all()
    assert ids.dtype == np.int64 and (ids >= 0).all() and (ids <= labels.MAX_CLASS_ID).all()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=15,
)


@QUICK
@given(
    name=st.sampled_from(["resourceconfig.json", "inputdataconfig.json", "hyperparameters.json"]),
    value=json_values,
)
def test_a_config_file_of_any_json_is_accepted_or_refused_naming_it(tmp_path_factory, name, value):
    paths = Paths(tmp_path_factory.mktemp("opt_ml"))
    paths.config.mkdir(parents=True)
    (paths.config / name).write_text(json.dumps(value))
    readers = {
        "resourceconfig.json": resource_config,
        "inputdataconfig.json": input_data_config,
        "hyperparameters.json": lambda p: parse_hyperparameters(
            json.loads((p.config / name).read_text()), HYPERPARAMETERS, ACCEPTED
        ),
    }
    try:
        readers[name](paths)
    except UserError as error:
        assert name in str(error) or "hyperparameter" in str(error)


@QUICK
@given(text=st.text(max_size=12))
def test_an_integer_hyperparameter_is_a_plain_decimal_or_refused(text):
    try:
        epochs = parse_hyperparameters({"epochs": text}, HYPERPARAMETERS, ACCEPTED)["epochs"]
    except UserError:
        return
    assert re.fullmatch(r'"?\s*[-+]?[0-9]+\s*"?', text.strip()) and 1 <= epochs <= 100_000


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 12), width=st.integers(2, 12))
def test_a_pickle_of_shared_lists_is_refused_or_read_without_building_past_its_limit(depth, width):
    bomb: object = [0.0]
    for _ in range(depth):
        bomb = [bomb] * width
    data = pickle.dumps({"x_train": bomb})
    try:
        _, nbytes = safe_pickle.load(data, BUDGET_BYTES)
    except safe_pickle.ExpansionError as error:
        assert error.claimed > BUDGET_BYTES
        return
    assert nbytes <= BUDGET_BYTES


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=damaged_files())
def test_train_ends_a_job_on_damaged_data_with_one_line_and_no_model(tmp_path_factory, file):
    tree = new_opt_ml(tmp_path_factory.mktemp("job") / "opt ml")
    (tree.training / "output_dict").unlink()
    (tree.training / file[0]).write_bytes(file[1])
    tree.hyperparameters({"epochs": "1"})

    try:
        result = tree.run(timeout=120)
    except subprocess.TimeoutExpired as expired:
        raise AssertionError(f"./train hung on {file[0]}") from expired

    if result.returncode == 0:  # the damage left valid data: a model, and no failure
        assert tree.model_file.exists() and not tree.failure_file.exists()
        return
    reason = tree.failure_file.read_text()
    assert reason.count("\n") == 1 and reason.strip() in result.stderr
    assert not tree.model_file.exists()


recording_arrays = hnp.arrays(
    np.float32,
    hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=24),
    elements=st.floats(-1e4, 1e4, width=32),
)


@settings(max_examples=60, deadline=None)
@given(recording_arrays, st.sampled_from(transform.FEATURES))
def test_features_are_finite_float32_rows_whatever_the_chunk_size(x, kind):
    fitted = transform.fit(x, kind, channels=1, seed=0)
    whole = transform.features(x, kind, fitted=fitted)
    with mock.patch.object(transform, "CHUNK_BYTES", 1):  # one recording per chunk
        row_by_row = transform.features(x, kind, fitted=fitted)

    assert whole.dtype == np.float32 and whole.shape[0] == len(x) and np.isfinite(whole).all()
    np.testing.assert_allclose(whole, row_by_row, rtol=1e-6, atol=1e-6)


@given(requested=st.integers(0, 1_000_000), rows=st.integers(1, 10_000_000))
def test_the_batch_size_is_the_one_asked_for_or_automatic_and_never_more_than_the_rows(requested, rows):
    batch = training_batch_size(requested, rows)

    assert 1 <= batch <= rows
    if requested:
        assert batch == min(requested, rows)
    else:
        assert batch == rows or 32 <= batch <= 1024


@QUICK
@given(message=st.text())  # surrogates included: a file name of bytes that are not UTF-8
def test_any_message_becomes_one_line_of_utf_8_within_the_limit(message):
    line = sagemaker_env.one_line(message)

    assert "\n" not in line and len(line) <= sagemaker_env.FAILURE_REASON_LIMIT
    line.encode("utf-8")  # raises on a surrogate
