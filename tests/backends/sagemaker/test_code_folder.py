"""What the code upload to S3 holds (issue #14, item 6): ``.mlxignore`` and the default
skips are honoured, a left-out file changing uploads nothing again, and ``translate``
lists what will be uploaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.backends.sagemaker.conftest import BUCKET, sagemaker_spec, wait_for_request
from tests.conftest import write
from tests.emulators.aws import AwsServer


def litter(code: Path) -> None:
    for name in (".git/HEAD", "__pycache__/m.pyc", ".ipynb_checkpoints/n.ipynb",
                 "mlruns/0/meta.yaml", "mlflow.db", "venv/bin/activate", "notes/draft.md",
                 "data/big.ckpt", "data/keep.ckpt", "tools/env/lib/x.py"):  # fmt: skip
        write(code / name, "x")
    write(code / "tools" / "env" / "pyvenv.cfg", "home = /usr/bin\n")
    write(code / ".mlxignore", "# scratch\nnotes/\n*.ckpt\n!keep.ckpt\n")


def code_objects(sm: AwsServer, index: int) -> list[str]:
    request = wait_for_request(sm, "CreateTrainingJob", index)
    (channel,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "code"]
    prefix = channel["DataSource"]["S3DataSource"]["S3Uri"][len(f"s3://{BUCKET}/") :]
    listed = sm.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [o["Key"][len(prefix) :] for o in listed["Contents"]]


def test_the_code_upload_honours_mlxignore_and_skips_what_is_not_code(
    mlx: Any, sm: AwsServer, tmp_path: Path
) -> None:
    spec = sagemaker_spec(tmp_path)
    code = tmp_path / "project" / "code"
    litter(code)
    assert mlx("train", spec, "--detach").exit_code == 0
    assert code_objects(sm, 0) == [".mlxignore", "data/keep.ckpt", "train.py"]
    # A left-out file is not part of the content digest: the same prefix, nothing sent.
    write(code / "mlruns" / "1" / "meta.yaml", "another local run")
    sm.plan.calls.clear()
    assert mlx("train", spec, "--detach").exit_code == 0
    assert [c for c in sm.plan.calls if c.startswith("S3 PUT") and "/mlx/inputs/" in c] == []
    assert code_objects(sm, 1) == code_objects(sm, 0)


def test_translate_lists_each_upload_with_its_size_and_largest_files(
    mlx: Any, tmp_path: Path
) -> None:
    write(tmp_path / "project" / "data" / "train.csv", "x" * 2500)
    spec = sagemaker_spec(tmp_path, inputs={"train": "./data"})
    code = tmp_path / "project" / "code"
    litter(code)
    write(code / "model.py", "y" * 1200)
    result = mlx("translate", spec, "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert "uploads" not in shown["request"]  # the request is boto3's, untouched
    code_entry, data_entry = shown["uploads"]
    assert (code_entry["what"], code_entry["source"]) == ("code", str(code))
    assert code_entry["files"] == 4  # train.py, model.py, .mlxignore, data/keep.ckpt
    assert code_entry["bytes"] == sum(
        (code / n).stat().st_size for n in ("train.py", "model.py", ".mlxignore", "data/keep.ckpt")
    )
    assert code_entry["largest"][0] == {"path": "model.py", "bytes": 1200}
    assert data_entry == {
        "what": "inputs.train",
        "source": str(tmp_path / "project" / "data"),
        "files": 1,
        "bytes": 2500,
        "largest": [{"path": "train.csv", "bytes": 2500}],
    }
    text = mlx("translate", spec).stderr
    assert f"Uploads: code from {code}: 4 files, 1.3 KB (largest: model.py 1.2 KB" in text
    assert "Uploads: inputs.train from " in text and ": 1 file, 2.5 KB" in text
