"""A user's first try of the image with the SageMaker Python SDK v2's local mode, as the
container tests run it: the model from S3 (moto), a local endpoint and a Predictor, then a
local Batch Transform of a CSV file, one recording per line, with each batch strategy.

    PYTHONPATH=. python tests/sdk_local_mode.py IMAGE MODEL_TAR_GZ ROWS_CSV OUTPUT_FOLDER

Leaves what a test checks in OUTPUT_FOLDER (the SDK's own progress goes to stdout):
predictions.jsonl, the Predictor's answers, one JSON line each; single/ROWS.csv.out and
multi/ROWS.csv.out, the output of the transform with BatchStrategy SingleRecord (a request
per recording) and MultiRecord (mini-batches of at most 1 MB), the class of each recording,
by line (AssembleWith=Line).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import boto3

from submit import LOCAL_ROLE, sdk_session

BUCKET = "local-mode-models"
STRATEGIES = {"single": "SingleRecord", "multi": "MultiRecord"}  # output subfolder: BatchStrategy


def main(image: str, model_tar_gz: str, rows_csv: str, output: str) -> int:
    session = sdk_session(boto3.Session().region_name, local=True)  # quiet, and no telemetry
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    s3.upload_file(model_tar_gz, BUCKET, "model/model.tar.gz")
    session.config = {"local": {"local_code": True}}
    model = Model(
        image_uri=image,
        model_data=f"s3://{BUCKET}/model/model.tar.gz",
        role=LOCAL_ROLE,
        predictor_cls=Predictor,  # else deploy() returns None
        sagemaker_session=session,
    )

    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="local",
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    try:
        rows = [[float(value) for value in line.split(",")] for line in Path(rows_csv).read_text().split()]
        predictions = predictor.predict(rows)["predictions"]
    finally:
        predictor.delete_endpoint()
    Path(output).mkdir(parents=True, exist_ok=True)
    (Path(output) / "predictions.jsonl").write_text(
        "".join(json.dumps(answer) + "\n" for answer in predictions)
    )

    for folder, strategy in STRATEGIES.items():
        # Each transform starts a container of its own and stops it when the file is done.
        transformer = model.transformer(
            instance_count=1,
            instance_type="local",
            strategy=strategy,
            # MB, the least there is: MultiRecord sends the rows in several mini-batches, whose
            # answers AssembleWith=Line joins; SingleRecord, one row per request, is refused a
            # row over it.
            max_payload=1,
            assemble_with="Line",
            accept="text/csv",
            output_path=f"file://{Path(output).resolve() / folder}",
        )
        transformer.transform(f"file://{rows_csv}", content_type="text/csv", split_type="Line")
        transformer.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
