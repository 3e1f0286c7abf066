"""A SageMaker job's page in the AWS console (``mlx open``, and the link shown at start).

The console's training-job and tuning-job pages, as AWS's own SageMaker components for
Kubeflow Pipelines print them after a create ("Training job in SageMaker: https://<region>
.console.aws.amazon.com/sagemaker/home?region=<region>#/jobs/<name>", "#/hyper-tuning-jobs/
<name>": kubeflow/pipelines components/aws/sagemaker/common/_utils.py).
"""

from __future__ import annotations

from typing import Optional

from mlx.model import JobRecord


def console_url(record: JobRecord) -> Optional[str]:
    """The job's console page; None for a job SageMaker never accepted."""
    region = record.location.get("region")
    if not record.native_id or not region:
        return None
    page = "hyper-tuning-jobs" if record.is_tuning else "jobs"  # a trial is a training job
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/{page}/{record.native_id}"
    )
