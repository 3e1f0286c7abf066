#!/usr/bin/env python3
"""A stand-in for the SageMaker training toolkit's ``train`` command, for the sandbox.

Images with the toolkit (``pip install sagemaker-training``: AWS's framework images, and
images built on its recipe) have ``train`` on their PATH (``console_scripts`` in its
setup.py); SageMaker starts them as ``docker run IMAGE train``. The sandbox has no image,
so the platform runner mounts this file as ``train`` when the image it stands for has the
toolkit. It does what the toolkit's ``trainer.train()`` does for a script entry point
(github.com/aws/sagemaker-training-toolkit, src/sagemaker_training/), step by step:

- ``environment.read_hyperparameters``: hyperparameters.json, each value ``json.loads``-ed
  when it parses, else kept as the string;
- ``environment.Environment``: the program is the ``SAGEMAKER_PROGRAM`` variable, else the
  ``sagemaker_program`` hyperparameter; the submit dir is the ``sagemaker_submit_directory``
  hyperparameter, else ``/opt/ml/code``; the ``sagemaker_*`` and ``_tuning_objective_metric``
  entries (``params.SAGEMAKER_HYPERPARAMETERS``) are not the script's arguments;
- ``files.download_and_extract``: the submit dir's ``tar.gz`` is fetched and extracted into
  ``/opt/ml/code`` only when that folder is empty ("Provided path ... is not empty,
  abandoning unzipping sourcedir.tar.gz");
- ``_entry_point_type`` + ``process.ProcessRunner``: a ``.py`` program runs as
  ``python PROGRAM ARGS`` (ARGS: ``mapping.to_cmd_args``, keys sorted, ``--key value``) with
  the working directory ``/opt/ml/code``;
- ``trainer.train``: a failed script is reported in ``/opt/ml/output/failure`` and ends
  ``train`` with exit code 1.

What it cannot do in a sandbox: read S3 with the job's role. The runner puts the objects
the toolkit would download under ``/.sagemaker-s3/<bucket>/<key>`` (``S3_MIRROR``).
Standard library only: it runs with whatever Python stands in for the image's.
"""

import json
import os
import shlex
import subprocess
import sys
import tarfile

S3_MIRROR = "/.sagemaker-s3"
BASE = "/opt/ml"
CODE_DIR = BASE + "/code"
HYPERPARAMETERS = BASE + "/input/config/hyperparameters.json"
FAILURE = BASE + "/output/failure"
# params.SAGEMAKER_HYPERPARAMETERS, and every other sagemaker_* entry (params.SAGEMAKER_PREFIX)
OWN = ("_tuning_objective_metric", "default_user_module_name")


def log(text):
    print(text, file=sys.stderr, flush=True)


def read_hyperparameters():
    with open(HYPERPARAMETERS, encoding="utf-8") as f:
        raw = json.load(f)
    values = {}
    for key, value in raw.items():
        try:
            values[key] = json.loads(value)
        except (ValueError, TypeError):
            values[key] = value
    return values


def download_and_extract(uri):
    os.makedirs(CODE_DIR, exist_ok=True)
    if os.listdir(CODE_DIR):
        log("Provided path: %s is not empty, abandoning unzipping sourcedir.tar.gz" % CODE_DIR)
        return
    if uri.startswith("s3://"):
        with tarfile.open(S3_MIRROR + "/" + uri[len("s3://") :], mode="r:gz") as archive:
            archive.extractall(path=CODE_DIR)


def to_cmd_args(hyperparameters):
    args = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append("--%s" % key if len(key) > 1 else "-%s" % key)
        if isinstance(value, dict):
            args.append(",".join("%s=%s" % item for item in sorted(value.items())))
        else:
            args.append(value if isinstance(value, str) else json.dumps(value))
    return args


def command(program, args):
    if program.endswith(".sh") or not program.endswith(".py"):
        return ["/bin/sh", "-c", "./%s %s" % (program, " ".join(shlex.quote(a) for a in args))]
    if os.path.isfile(os.path.join(CODE_DIR, "setup.py")):
        return [sys.executable, "-m", program[: -len(".py")], *args]
    return [sys.executable, program, *args]


def fail(reason):
    os.makedirs(os.path.dirname(FAILURE), exist_ok=True)
    with open(FAILURE, "w", encoding="utf-8") as f:
        f.write(reason)
    log("Reporting training FAILURE")
    log(reason)
    return 1


def main():
    hyperparameters = read_hyperparameters()
    own = {k: v for k, v in hyperparameters.items() if k.startswith("sagemaker_") or k in OWN}
    script = {k: v for k, v in hyperparameters.items() if k not in own}
    program = os.environ.get("SAGEMAKER_PROGRAM") or own.get("sagemaker_program")
    if not program:
        return fail("Framework Error: no sagemaker_program to run")
    download_and_extract(str(own.get("sagemaker_submit_directory", CODE_DIR)))
    argv = command(str(program), to_cmd_args(script))
    log("Invoking script with the following command:\n\n%s\n" % " ".join(argv))
    code = subprocess.call(argv, cwd=CODE_DIR)
    if code != 0:
        return fail('ExecuteUserScriptError:\nExitCode %d\nCommand "%s"' % (code, " ".join(argv)))
    log("Reporting training SUCCESS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
