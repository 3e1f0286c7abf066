"""Where Google credentials are found for ``mlx doctor``: google-auth is asked to load
Application Default Credentials from where ``google.auth.default()`` looks first, without
any network call.

``google.auth.default`` tries, in order, ``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's ADC
file, App Engine, then the Compute Engine metadata server (google/auth/_default.py
``default``; https://cloud.google.com/docs/authentication/application-default-
credentials). The first two are files it reads with ``load_credentials_from_file``; the
last pings an HTTP server, three times with exponential backoff and sleeps in between
(compute_engine/_metadata.py ``ping``), so ``default()`` itself is slow and networky
wherever no file is found. mlx calls ``load_credentials_from_file`` on those two files, as
``default()`` does, and leaves the metadata server out (like the EC2 instance role on AWS,
it cannot be seen without asking it).
"""

from __future__ import annotations

import os
import warnings
from typing import Optional

# Credential classes by module, in the words of Google's ADC page.
_KINDS = {
    "google.oauth2.credentials": "user login",
    "google.oauth2.service_account": "service account key",
    "google.auth.identity_pool": "workload identity federation",
    "google.auth.aws": "workload identity federation (AWS)",
    "google.auth.pluggable": "workload identity federation (executable)",
    "google.auth.impersonated_credentials": "impersonated service account",
    "google.auth.external_account_authorized_user": "workforce identity federation",
}


def find_credentials() -> Optional[str]:
    """What ADC finds in its files (a short text), or None; None also without google-auth
    installed (``mlx doctor`` says the SDK is missing)."""
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        return None
    path = _adc_file()
    if path is None:
        return None
    try:
        # default() itself silences the method's DeprecationWarning (a configuration from a
        # source not under the user's control): these are the files it reads anyway.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            credentials, _ = google.auth.load_credentials_from_file(path)
    except google.auth.exceptions.GoogleAuthError:  # a file it cannot use: none found
        return None
    kind = _KINDS.get(type(credentials).__module__, type(credentials).__name__)
    return f"{kind} ({path})"


def _adc_file() -> Optional[str]:
    """The file ``default()`` reads: the variable's (even when missing: then it fails, as
    ``default()`` does), else gcloud's ADC file when it exists."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path:
        return path
    from google.auth import _cloud_sdk

    adc: str = _cloud_sdk.get_application_default_credentials_path()
    return adc if os.path.isfile(adc) else None
