"""./train with the example's members hyperparameter: delete this folder with the example."""

from __future__ import annotations

import json


def test_a_model_of_two_members_trains_and_is_saved(opt_ml):
    opt_ml.hyperparameters({"epochs": "1", "model": "mlp", "members": "2"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "training: model=eeg_mlp_x2 " in result.stdout
    assert opt_ml.metadata()["hyperparameters"]["members"] == 2
    assert opt_ml.model_file.stat().st_size > 0


def test_a_checkpoint_of_another_network_is_refused_rather_than_resumed(opt_ml):
    (opt_ml.base / "input/config/checkpointconfig.json").write_text(
        json.dumps({"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://bucket/checkpoints"})
    )
    opt_ml.hyperparameters({"epochs": "1", "model": "mlp"})
    assert opt_ml.run().returncode == 0
    opt_ml.hyperparameters({"epochs": "2", "model": "mlp", "members": "2"})

    result = opt_ml.run()

    assert result.returncode != 0
    assert "holds another network than the hyperparameters build" in opt_ml.failure_file.read_text()
    assert not opt_ml.model_file.exists()
