"""An Azure ML job's page in Azure Machine Learning studio (``mlx open``, and the link
shown at start; ``az ml job show --web`` opens the same page).

azure-ai-ml builds it from a job's ARM id the same way (``studio_url_from_job_id`` in
azure/ai/ml/entities/_job/_studio_url_from_job_id.py): ``<studio>/runs/<name>?wsid=
/subscriptions/<sub>/resourcegroups/<rg>/workspaces/<ws>``, the studio being
``https://ml.azure.com`` in Azure's public cloud (``_get_aml_resource_id_from_metadata``).
"""

from __future__ import annotations

from typing import Optional

from mlx.model import JobRecord


def console_url(record: JobRecord) -> Optional[str]:
    """The job's studio page; None for a job Azure never accepted."""
    where = record.location
    if not record.native_id or not all(
        where.get(k) for k in ("subscription_id", "resource_group", "workspace")
    ):
        return None
    workspace = (
        f"/subscriptions/{where['subscription_id']}/resourcegroups/{where['resource_group']}"
        f"/workspaces/{where['workspace']}"
    )
    return f"https://ml.azure.com/runs/{record.native_id}?wsid={workspace}"
