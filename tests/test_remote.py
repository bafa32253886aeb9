"""The reviewer's path against an S3-compatible object store instead of a folder beside the author's clone: moto's
server (from PyPI) on 127.0.0.1, a DVC S3 remote with `endpointurl`, push from the author's clone, pull into a
fresh clone with an empty cache, `dvc status` clean, `weightreg.verify` passing. Nothing is mocked: DVC talks
S3 over HTTP (dvc-s3, boto) to a real server process."""

import socket

import pytest

from conftest import commit_all, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("built_pipeline")]
BUCKET = "weightreg-results"
# moto accepts any key; real ones come from the environment or ~/.aws, never from the repository
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def object_store():
    """moto's S3-compatible server on 127.0.0.1 with one empty bucket; yields its endpoint URL and a boto3 client."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                              region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client
    finally:
        server.stop()


def test_a_reviewer_pulls_every_result_from_an_s3_remote_into_an_empty_cache_and_verifies_it(built_copy, object_store):
    endpoint, client = object_store
    repo_copy = built_copy  # the tiny pipeline, built (conftest.built_pipeline)
    # the commands docs/remote.md gives the author (S3; an S3-compatible store adds its endpointurl)
    run(["dvc", "remote", "add", "-d", "store", f"s3://{BUCKET}/weightreg"], repo_copy)
    run(["dvc", "remote", "modify", "store", "endpointurl", endpoint], repo_copy)
    commit_all(repo_copy, "results; remote on S3")
    pushed = run(["dvc", "push"], repo_copy, env=CREDENTIALS)
    stored = client.list_objects_v2(Bucket=BUCKET, Prefix="weightreg/")
    assert stored["KeyCount"] > 50, pushed.stdout  # every cached output went to the store
    assert not (repo_copy.parent / "weightreg-dvc-storage").exists()  # and nothing to the old folder remote

    reviewer = repo_copy.parent / "reviewer"
    run(["git", "clone", "-q", str(repo_copy), str(reviewer)], repo_copy.parent)
    # an empty cache and no cached result; the small results (summary, comparisons, metrics, report) come with git
    assert not (reviewer / ".dvc" / "cache").exists() and not (reviewer / "results" / "moons_case_study" / "runs.csv").exists()
    assert (reviewer / "results" / "moons_case_study" / "comparisons.csv").is_file()
    pulled = run(["dvc", "pull"], reviewer, env=CREDENTIALS)
    assert "fetched" in pulled.stdout or "added" in pulled.stdout, pulled.stdout
    assert "up to date" in run(["dvc", "status"], reviewer).stdout
    assert "Running stage" not in run(["dvc", "repro"], reviewer).stdout
    assert (reviewer / "reports" / "report.html").is_file()
    checked = run(["python", "-m", "weightreg.verify", "--study", "moons_case_study", "--study", "imdb_mlp", "--sample", "2"],
                  reviewer)
    assert "0 outputs differ from dvc.lock" in checked.stdout
    assert "4 of 4 sampled runs match (rtol 0); 0 mismatch" in checked.stdout

