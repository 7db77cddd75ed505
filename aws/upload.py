"""Uploads the training data to S3, where `make submit` points the training channel.

    make upload                                  # test_dir/input/data/training -> s3://sagemaker-REGION-ACCOUNT/data/eeg/
    make upload DATA=~/eeg/full BUCKET=my-bucket
    .venv/bin/python -m aws.upload --data DIR --bucket BUCKET --image eeg

The bucket defaults to the SageMaker SDK's default bucket name, sagemaker-REGION-ACCOUNT,
and is created when missing. Files keep their paths below DIR. The last line printed is
the S3 URI to give submit.py as --inputs training=URI (which is also its default).
Files deleted from DIR stay in S3: remove them with `aws s3 rm --recursive URI` first.
An empty value for an option means its default, so Make can pass its variables through.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import botocore.exceptions

from aws.context import AwsContext, connect, data_uri, parse_image, run_command
from aws.defaults import IMAGE, REPO, SAMPLE_DATA
from container.sagemaker_env import UserError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="upload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        default="",
        metavar="DIR",
        help=f"folder to upload (default: {SAMPLE_DATA.relative_to(REPO)})",
    )
    parser.add_argument(
        "--bucket", default="", help="S3 bucket (default: sagemaker-REGION-ACCOUNT, created if missing)"
    )
    parser.add_argument(
        "--image", default="", help=f"image name; the data goes under data/NAME/ (default: {IMAGE})"
    )
    return parser.parse_args(argv)


def files_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UserError(f"no folder {folder} (set DATA=dir or --data DIR)")
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise UserError(f"no files in {folder}: nothing to upload")
    return files


def ensure_bucket(aws: AwsContext, bucket: str) -> None:
    """Creates the bucket in this region when it does not exist yet, like the SDK does."""
    s3 = aws.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code == "403":
            raise UserError(
                f"bucket {bucket} exists but this account may not use it (HeadBucket: 403 Forbidden): "
                "choose another with BUCKET=name or --bucket"
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if aws.region == "us-east-1":  # the one region that refuses an explicit LocationConstraint
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region})
    print(f"created bucket s3://{bucket} in {aws.region}")


def upload(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(args.data).expanduser() if args.data else SAMPLE_DATA
    files = files_in(folder)
    image = args.image or IMAGE
    parse_image(image)  # an invalid name fails here, before anything is sent
    aws = connect()
    bucket = args.bucket or aws.default_bucket
    destination = data_uri(bucket, image)
    prefix = destination.removeprefix(f"s3://{bucket}/")
    ensure_bucket(aws, bucket)
    s3 = aws.client("s3")
    for path in files:
        key = prefix + path.relative_to(folder).as_posix()
        s3.upload_file(str(path), bucket, key)
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        print(f"uploaded {shown} to s3://{bucket}/{key}")
    print(destination)
    return 0


if __name__ == "__main__":
    sys.exit(run_command("upload", upload))
