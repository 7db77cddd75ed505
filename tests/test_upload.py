"""`make upload` against a moto server: where the files go, what it prints, how it fails."""

from __future__ import annotations

from pathlib import Path

from moto_server import ACCOUNT, REGION, REPO, Aws

DEFAULT_BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"
SAMPLE = REPO / "test_dir" / "input" / "data" / "training"


def test_upload_puts_the_sample_under_data_image_in_the_default_bucket(aws: Aws) -> None:
    result = aws.run("make", "upload")

    assert result.returncode == 0, result.stderr
    expected = sorted(f"data/eeg/{path.name}" for path in SAMPLE.iterdir() if path.is_file())
    assert aws.keys(DEFAULT_BUCKET) == expected


def test_upload_prints_the_s3_uri_of_the_data_last(aws: Aws) -> None:
    result = aws.run("make", "upload", "IMAGE=eeg-v2")

    assert result.stdout.splitlines()[-1] == f"s3://{DEFAULT_BUCKET}/data/eeg-v2/"


def test_upload_creates_the_missing_default_bucket_in_the_current_region(aws: Aws) -> None:
    aws.run("make", "upload")

    location = aws.client("s3").get_bucket_location(Bucket=DEFAULT_BUCKET)["LocationConstraint"]
    assert location == REGION


def test_upload_sends_the_folder_named_by_data_with_its_subfolders(aws: Aws, tmp_path: Path) -> None:
    (tmp_path / "data" / "part-2").mkdir(parents=True)
    (tmp_path / "data" / "a.pkl").write_bytes(b"a")
    (tmp_path / "data" / "part-2" / "b.pkl").write_bytes(b"b")

    result = aws.run("make", "upload", f"DATA={tmp_path / 'data'}")

    assert result.returncode == 0, result.stderr
    assert aws.keys(DEFAULT_BUCKET) == ["data/eeg/a.pkl", "data/eeg/part-2/b.pkl"]


def test_upload_uses_an_existing_bucket_named_by_bucket(aws: Aws) -> None:
    aws.client("s3").create_bucket(
        Bucket="team-data", CreateBucketConfiguration={"LocationConstraint": REGION}
    )

    result = aws.run("make", "upload", "BUCKET=team-data")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "s3://team-data/data/eeg/"
    assert aws.keys("team-data") == ["data/eeg/output_dict"]


def test_upload_of_an_empty_folder_fails_saying_there_is_nothing_to_upload(aws: Aws, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = aws.run("make", "upload", f"DATA={tmp_path / 'empty'}")

    assert result.returncode != 0
    assert f"upload: error: no files in {tmp_path / 'empty'}" in result.stderr


def test_upload_refuses_an_invalid_image_name_before_creating_a_bucket(aws: Aws) -> None:
    result = aws.run("make", "upload", "IMAGE=My Model")

    assert result.returncode != 0
    assert "invalid image name 'My Model'" in result.stderr
    assert aws.client("s3").list_buckets()["Buckets"] == []
