"""The training toolkit's entry for tuning-job trials, staged beside the bootstrap.

Local inputs, the code dir, the bootstrap and runtime.json are staged by the shared
``mlx.cloud.plan.stage`` (inputs and code once, by content, under
``s3://<bucket>/<prefix>/inputs/<sha256>/``).
"""

from __future__ import annotations

import io
import tarfile

# Started by the SageMaker training toolkit (sagemaker_program) in tuning-job trials, whose
# API has no ContainerEntrypoint: it runs the bootstrap from the `mlx` channel, which takes
# the command from runtime.json and the trial's values from hyperparameters.json. The
# arguments the toolkit appends are those same hyperparameters: ignored.
TOOLKIT_ENTRY = "mlx_entry.py"
_TOOLKIT_ENTRY_SOURCE = b'''"""mlx: run the job's command through the mlx bootstrap."""
import sys

sys.path.insert(0, "{bootstrap}")
from mlx.runtime.bootstrap import main  # noqa: E402

sys.exit(main(["--config", "{runtime}"]))
'''


def toolkit_archive(bootstrap_path: str, runtime_path: str) -> bytes:
    """``sourcedir.tar.gz`` for ``sagemaker_submit_directory``: only the entry script."""
    source = _TOOLKIT_ENTRY_SOURCE.replace(b"{bootstrap}", bootstrap_path.encode())
    source = source.replace(b"{runtime}", runtime_path.encode())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(TOOLKIT_ENTRY)
        info.size, info.mode = len(source), 0o644
        archive.addfile(info, io.BytesIO(source))
    return buffer.getvalue()
