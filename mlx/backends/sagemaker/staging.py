"""The training toolkit's entry for tuning-job trials, staged beside the bootstrap.

Local inputs, the code dir, the bootstrap and runtime.json are staged by the shared
``mlx.cloud.plan.stage`` (inputs and code once, by content, under
``s3://<bucket>/<prefix>/inputs/<sha256>/``).

A tuning job's API has no ContainerEntrypoint, so trials start through the SageMaker
training toolkit (``docker run IMAGE train``). The toolkit runs ``python <program>`` in
``/opt/ml/code`` (github.com/aws/sagemaker-training-toolkit: ``process.ProcessRunner``,
``cwd=environment.code_dir``). mlx's program is this entry, staged as a plain file in the
`mlx` channel and named by its absolute path, so nothing depends on ``/opt/ml/code``: the
toolkit extracts a submitted ``sourcedir.tar.gz`` only into an empty ``/opt/ml/code``
(``files.download_and_extract``), and images built on the toolkit's recipe ship their own
program there — mlx sends no source archive at all. The program is named by the
``SAGEMAKER_PROGRAM`` variable, which wins over both the ``sagemaker_program``
hyperparameter and an image's own ``ENV SAGEMAKER_PROGRAM`` (``environment.Environment``
reads the variable first; the request's Environment overrides the image's ENV).
"""

from __future__ import annotations

# The entry runs the bootstrap, which takes the command from runtime.json and the trial's
# values from hyperparameters.json; the arguments the toolkit appends (those same
# hyperparameters) are ignored. The toolkit started it in /opt/ml/code, but the toolkit
# itself runs where the image's WORKDIR put it (`docker run IMAGE train`): a job without
# `code:` runs its command there, as a training job does.
_TOOLKIT_ENTRY_SOURCE = '''"""mlx: run the job's command through the mlx bootstrap."""
import json
import os
import sys

sys.path.insert(0, "{bootstrap}")
from mlx.runtime.bootstrap import main  # noqa: E402

with open("{runtime}", encoding="utf-8") as f:
    if not json.load(f).get("workdir"):
        try:
            os.chdir(os.readlink("/proc/%d/cwd" % os.getppid()))  # the toolkit's own
        except OSError:
            pass
sys.exit(main(["--config", "{runtime}"]))
'''


def toolkit_entry(bootstrap_path: str, runtime_path: str) -> bytes:
    """``mlx_entry.py``: the program the toolkit runs in tuning-job trials."""
    source = _TOOLKIT_ENTRY_SOURCE.replace("{bootstrap}", bootstrap_path)
    return source.replace("{runtime}", runtime_path).encode()
