"""Job ids: valid on all three clouds, safe in SQL, paths and Vertex labels."""

from __future__ import annotations

import re
import secrets
import string

from mlx.errors import JobNotFound

# SageMaker's name pattern; also within Vertex label values and Azure job names once
# lowercased, and at most 63 characters everywhere.
JOB_ID_RE = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
_ALPHABET = string.ascii_lowercase + string.digits
SUFFIX_LEN = 6


def new_job_id(name: str) -> str:
    """``iris-logreg`` -> ``iris-logreg-k3x9qz``: the spec name plus a random suffix."""
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(SUFFIX_LEN))
    return f"{name.lower()}-{suffix}"


def trial_id(parent_id: str, number: int) -> str:
    """The id of trial ``number`` of tuning job ``parent_id``."""
    return f"{parent_id}-t{number}"


def check_job_ref(text: str) -> str:
    """Refuse a job reference that could never name a job (and so never reaches SQL or paths)."""
    _provider, sep, native = text.partition(":")
    if sep:
        if not native or any(c in native for c in "\x00\n\r"):
            raise JobNotFound(f"{text!r} is not a valid job reference")
        return text
    if not text or len(text) > 63 or not re.fullmatch(r"[A-Za-z0-9-]+", text):
        raise JobNotFound(
            f"{text!r} is not a job id",
            hint="Job ids use letters, digits and hyphens; `mlx jobs` lists them.",
        )
    return text.lower()
