"""gs:// and s3:// end to end, against object-storage emulators on 127.0.0.1 (moto's S3 server and
gcp-storage-emulator): `gap scrape` writes replay into a raw store in a bucket, `gap build` reads the bucket
and writes the corpus to it, `gap verify` re-reads it there. The commands run as subprocesses with the
emulator's address in the environment, where a user's shell would have the real endpoints and credentials;
every metadata-server and credential lookup is pointed at loopback too, so nothing leaves the machine."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from gap_pipeline.build import sample_dir

REPO = Path(__file__).resolve().parents[2]
REPLAY = REPO / "gap_pipeline" / "sample_src" / "replay.jsonl"
LOOPBACK_DEAD_END = "127.0.0.1:9"  # discard port: a metadata-server lookup fails at once, locally


class Bucket:
    """A fresh bucket on an emulator; `key` names an object for the test's own fsspec client, `url` for
    the gap commands, which run with `env` (and `prelude` run before them)."""

    def __init__(self, scheme: str, name: str, fs, env: dict[str, str], beam_options: list[str],
                 prelude: tuple[str, ...] = ()):
        self.scheme, self.name, self.fs, self.env = scheme, name, fs, env
        self.beam_options, self.prelude = beam_options, prelude

    def key(self, path: str) -> str:
        return f"{self.name}/{path}"

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.name}/{path}"


def _s3():
    pytest.importorskip("s3fs")
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    import s3fs

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    fs = s3fs.S3FileSystem(key="test", secret="test", client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
    name = f"gap-{uuid.uuid4().hex[:12]}"   # moto keeps one state per process: a bucket per test
    fs.mkdir(name)  # us-east-1, the default region: no location constraint
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    options = ["--s3_endpoint_url", endpoint, "--s3_access_key_id", "test", "--s3_secret_access_key", "test",
               "--s3_region_name", "us-east-1"]
    return Bucket("s3", name, fs, env, options), server.stop


def _gs():
    pytest.importorskip("gcsfs")
    pytest.importorskip("apache_beam.io.gcp.gcsio")
    emulator = pytest.importorskip("gcp_storage_emulator.server")
    from gcsfs.core import GCSFileSystem  # the plain client: the emulator has no storage-control gRPC API

    server = emulator.create_server("127.0.0.1", 0, in_memory=True, default_bucket="bucket")
    server.start()
    endpoint = f"http://127.0.0.1:{server._api._httpd.server_address[1]}"
    fs = GCSFileSystem(endpoint_url=endpoint, token="anon", project="test", skip_instance_cache=True)
    env = {"STORAGE_EMULATOR_HOST": endpoint, "GOOGLE_CLOUD_PROJECT": "test",
           "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",   # gcsfs's bucket-layout probe is gRPC only
           "NO_GCE_CHECK": "True", "GCE_METADATA_HOST": LOOPBACK_DEAD_END, "GCE_METADATA_IP": LOOPBACK_DEAD_END}
    # The emulator needs no credentials; Beam's own lookup would retry for ~30 s before connecting
    # anonymously when none exist, so the commands start as if it had already found none.
    prelude = ("from apache_beam.internal.gcp import auth", "auth._Credentials._credentials_init = True")
    return Bucket("gs", "bucket", fs, env, [], prelude), server.stop


@pytest.fixture(params=["s3", "gs"])
def bucket(request):
    made, stop = {"s3": _s3, "gs": _gs}[request.param]()
    yield made
    stop()


def _gap(bucket: Bucket, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", **bucket.env)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
    for key in ("GOOGLE_APPLICATION_CREDENTIALS", "AWS_PROFILE"):   # no real account is ever consulted
        env.pop(key, None)
    command = "; ".join([*bucket.prelude, "import sys", "from gap_pipeline.cli import main",
                         "sys.exit(main(sys.argv[1:]))"])
    return subprocess.run([sys.executable, "-c", command, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_scrape_build_and_verify_in_a_bucket(bucket, tmp_path):
    # The papers, abstracts and guidelines of the embedded sample were scraped into the bucket earlier...
    raw = Path(sample_dir()) / "raw"
    for part in sorted(raw.rglob("*.parquet")):
        if part.parent.name != "replay":
            bucket.fs.put(str(part), bucket.key(f"raw/{part.relative_to(raw).as_posix()}"))
    # ...and replay text lies in the bucket as JSON lines; `gap scrape` samples it into the raw store there.
    bucket.fs.pipe(bucket.key("replay-src/part-0.jsonl"), REPLAY.read_bytes())
    config = tmp_path / "scrape.yaml"
    config.write_text(json.dumps({"scrape": {"bulk": {
        "replay_paths": [bucket.url("replay-src/*.jsonl")], "replay_token_budget": 50_000}}}))
    proc = _gap(bucket, "scrape", "--sources", "replay", "--out", bucket.url("raw"), "--config", str(config),
                "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    replay_parts = bucket.fs.glob(bucket.key("raw/replay/*.parquet"))
    assert replay_parts, bucket.fs.find(bucket.key("raw"))

    proc = _gap(bucket, "build", "--input", bucket.url("raw"), "--out", bucket.url("corpus"), "--",
                *bucket.beam_options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["accounting"]["balanced"] is True and summary["shards"] > 0

    manifest = json.loads(bucket.fs.cat(bucket.key("corpus/manifest.json")))
    assert manifest["sources"]["replay"]["documents_kept"] > 0
    quarantined = [json.loads(line) for path in bucket.fs.glob(bucket.key("corpus/quarantine/*.jsonl"))
                   for line in bucket.fs.cat(path).decode().splitlines()]
    # The sample's truncated JATS and PDF, nothing else.
    assert manifest["accounting"]["raw_records"]["quarantined"] == 2, "\n".join(f"{q['url']}: {q['error']}" for q in quarantined)
    for shard in manifest["shards"]:
        assert _sha(bucket.fs.cat(bucket.key(f"corpus/{shard['path']}"))) == shard["sha256"]

    proc = _gap(bucket, "verify", bucket.url("corpus"), "--", *bucket.beam_options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"{len(manifest['shards'])} shards" in proc.stdout

    # The same raw store copied to a local folder builds the same corpus, byte for byte.
    local_raw = tmp_path / "raw"
    bucket.fs.get(bucket.key("raw"), str(local_raw), recursive=True)
    proc = _gap(bucket, "build", "--input", str(local_raw), "--out", str(tmp_path / "corpus"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    local = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert local["config"].pop("input") == str(local_raw) and manifest["config"].pop("input") == bucket.url("raw")
    local.pop("config_hash"), manifest.pop("config_hash")   # the input location is part of the config
    assert local == manifest
    for shard in manifest["shards"]:
        assert _sha((tmp_path / "corpus" / shard["path"]).read_bytes()) == shard["sha256"]

    # A damaged shard and a stray one in the bucket are both found where they lie.
    first = manifest["shards"][0]["path"]
    data = bytearray(bucket.fs.cat(bucket.key(f"corpus/{first}")))
    data[-100] ^= 0xFF
    bucket.fs.pipe(bucket.key(f"corpus/{first}"), bytes(data))
    bucket.fs.pipe(bucket.key("corpus/train/train-00099-of-00100.arrow"), b"stale")
    proc = _gap(bucket, "verify", bucket.url("corpus"), "--", *bucket.beam_options)
    assert proc.returncode == 1
    assert f"checksum mismatch: {first}" in proc.stderr
    assert "unlisted shard: train/train-00099-of-00100.arrow" in proc.stderr


def test_publishing_into_a_bucket_replaces_the_previous_outputs_only(tmp_path):
    """Outputs have fixed names; shards of an earlier, larger build must not survive next to a new one,
    and a file the build did not write is never touched."""
    made, stop = _s3()
    try:
        from apache_beam.io.filesystems import FileSystems
        from apache_beam.options.pipeline_options import PipelineOptions

        from gap_pipeline.build import _publish

        FileSystems.set_options(PipelineOptions(made.beam_options))
        for name in ("train/train-00011-of-00012.arrow", "validation/validation-00000-of-00001.arrow",
                     "documents/documents-00000-of-00001.parquet", "dropped/dropped-00000-of-00001.jsonl",
                     "_build/stats.json", "manifest.json", "tokenizer.model"):
            made.fs.pipe(made.key(f"corpus/{name}"), b"old")
        for name in ("train/train-00000-of-00001.arrow", "documents/part-000000.parquet", "manifest.json"):
            made.fs.pipe(made.key(f"corpus/_build/staging/{name}"), b"new")
        made.fs.pipe(made.key("corpus/notes/readme.txt"), b"the user's own file")
        made.fs.pipe(made.key("raw/cdc/part-000000.parquet"), b"input")
        _publish(made.url("corpus/_build/staging"), made.url("corpus"),
                 ["documents/part-000000.parquet", "manifest.json", "train/train-00000-of-00001.arrow"])
        made.fs.invalidate_cache()
        assert sorted(made.fs.find(made.name)) == sorted(
            [made.key("corpus/notes/readme.txt"), made.key("raw/cdc/part-000000.parquet"),
             made.key("corpus/train/train-00000-of-00001.arrow"), made.key("corpus/documents/part-000000.parquet"),
             made.key("corpus/manifest.json")])
        assert made.fs.cat(made.key("corpus/manifest.json")) == b"new"
    finally:
        stop()


def test_an_unreachable_bucket_is_a_clear_error(tmp_path):
    """No filesystem for the scheme, or no such bucket: `gap build` and `gap verify` name the path."""
    made, stop = _s3()
    try:
        proc = _gap(made, "build", "--input", "s3://no-such-bucket/raw", "--out", str(tmp_path / "out"), "--",
                    *made.beam_options)
        assert proc.returncode == 2
        assert "gap build: error: input raw store s3://no-such-bucket/raw" in proc.stderr
        assert "Traceback" not in proc.stderr
        proc = _gap(made, "verify", made.url("nothing-here"), "--", *made.beam_options)
        assert proc.returncode == 1
        assert f"no manifest: {made.url('nothing-here/manifest.json')} does not exist" in proc.stderr
    finally:
        stop()
