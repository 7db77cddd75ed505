"""The second example, model=cnn: one sigmoid on (channels, samples) recordings kept whole.
Delete this folder with the example."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import task
from container.sagemaker_env import UserError
from container.serving.model import ServedModel

CNN = {"model": "cnn", "features": "recording", "members": 1, "learning_rate": 0.001}


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory: pytest.TempPathFactory):
    from conftest import new_opt_ml

    tree = new_opt_ml(tmp_path_factory.mktemp("cnn") / "opt ml")
    tree.hyperparameters({"model": "cnn", "features": "recording", "epochs": "3", "batch_size": "8"})
    return tree, tree.run()


def test_the_cnn_trains_on_recordings_kept_as_channels_and_samples(trained_cnn):
    tree, result = trained_cnn

    assert result.returncode == 0, result.stderr
    assert "training: model=eeg_cnn " in result.stdout
    assert " features=4x500 " in result.stdout
    assert tree.metadata()["features"]["shape"] == [4, 500]
    assert np.asarray(tree.metadata()["features"]["mean"]).shape == (4, 500)


def test_the_cnn_is_trained_on_binary_cross_entropy_with_one_output(trained_cnn):
    tree, _ = trained_cnn

    model = keras.saving.load_model(tree.model_file)

    assert model.loss == "binary_crossentropy"
    assert model.output_shape == (None, 1)
    assert "test_accuracy" in tree.metadata()["metrics"]


def test_the_served_cnn_answers_both_classes_probabilities_for_a_flat_row(trained_cnn):
    tree, _ = trained_cnn
    served = ServedModel.load(tree.base / "model")
    row = np.random.default_rng(0).standard_normal((1, 4 * 500)).astype(np.float32)

    (answer,) = served.answers(row)

    assert answer["class"] in ("0", "1")
    assert sum(answer["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_the_cnn_refuses_more_than_two_classes_naming_the_mlp():
    with pytest.raises(UserError, match=r"model=cnn tells two classes apart.*use model=mlp"):
        task.targets(np.array([0, 1, 2]), ["0", "1", "2"], CNN)


def test_the_cnn_targets_are_one_for_the_second_class():
    wanted = task.targets(np.array(["b", "a", "b"]), ["a", "b"], CNN)

    np.testing.assert_array_equal(wanted, [[1.0], [0.0], [1.0]])


def test_the_cnn_refuses_flat_features_naming_the_transform_it_reads():
    with pytest.raises(UserError, match="set features=recording"):
        task.build_model(keras, {**CNN, "features": "timefreq"}, (256,), ["0", "1"])


def test_the_cnn_refuses_members_which_only_the_mlp_has():
    with pytest.raises(UserError, match="members"):
        task.build_model(keras, {**CNN, "members": 2}, (4, 500), ["0", "1"])


def test_the_mlp_reads_unflattened_recordings_with_the_parameters_of_flat_ones():
    mlp = {**CNN, "model": "mlp"}

    unflattened = task.build_model(keras, mlp, (4, 500), ["0", "1"])
    flat = task.build_model(keras, mlp, (2000,), ["0", "1"])

    assert unflattened.count_params() == flat.count_params()


def test_the_accuracy_metric_reads_one_sigmoid_and_a_softmax_alike():
    accuracy = task.metrics(keras)["accuracy"]

    sigmoid = accuracy(np.array([[1.0], [0.0]]), np.array([[0.9], [0.8]], dtype=np.float32))
    softmax = accuracy(
        np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.1, 0.9], [0.2, 0.8]], dtype=np.float32)
    )

    np.testing.assert_array_equal(np.asarray(sigmoid), [1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(softmax), [1.0, 0.0])
