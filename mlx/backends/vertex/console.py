"""A Vertex AI job's page in the Google Cloud console (``mlx open``, and the link shown at
start): the URL the Vertex AI SDK prints for a job it runs (google-cloud-aiplatform 2.7.0,
google/cloud/aiplatform/jobs.py ``_Job._dashboard_uri``: ``https://console.cloud.google.
com/agent-platform/locations/<location>/<job type>/<id>?project=<project>``, with
``_job_type = "training"`` for ``CustomJob`` and ``HyperparameterTuningJob``; releases
before the console's rename printed ``/ai/platform/`` in its place).
"""

from __future__ import annotations

import re
from typing import Optional

from mlx.model import JobRecord

# A job's resource name (a trial's starts with its tuning job's).
_NAME = re.compile(
    r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"(?:customJobs|hyperparameterTuningJobs)/(?P<id>[^/]+)"
)


def console_url(record: JobRecord) -> Optional[str]:
    """The job's console page (a trial: its tuning job's); None before Vertex named it."""
    match = _NAME.match(record.native_id or "")
    if not match:
        return None
    return (
        f"https://console.cloud.google.com/agent-platform/locations/{match['location']}"
        f"/training/{match['id']}?project={match['project']}"
    )
