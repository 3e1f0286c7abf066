"""Spotting credentials written as plain ``env:`` values, which belong in ``secrets:``.

``env`` values are sent in the clear: they appear in ``translate`` output, in the job store
and in the provider's job description. A value that looks like a credential gets a warning
that says how to pass it instead.
"""

from __future__ import annotations

import re

# Names that say "this is a secret", and value shapes of well-known credentials.
_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|"
    r"CREDENTIAL|AUTH)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    r"^(AKIA|ASIA)[0-9A-Z]{16}$"  # AWS access key id
    r"|^gh[pousr]_[A-Za-z0-9]{30,}$"  # GitHub token
    r"|^xox[abprs]-[A-Za-z0-9-]{10,}$"  # Slack token
    r"|^sk-[A-Za-z0-9_-]{20,}$"  # OpenAI-style key
    r"|^hf_[A-Za-z0-9]{30,}$"  # Hugging Face token
    r"|^AIza[0-9A-Za-z_-]{35}$"  # Google API key
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"  # PEM private key
    # A URL with a password in it (RFC 3986 userinfo, `user:password@`): database and
    # broker URLs such as postgres://user:pass@host/db, redis://:pass@host.
    r"|^[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@"
)


def credential_warnings(env: dict[str, str]) -> list[str]:
    """One warning per ``env`` entry that looks like a credential (never showing its value)."""
    warnings = []
    for name, value in env.items():
        if not value or value.startswith("env:"):
            continue
        if _SECRET_VALUE.search(value) or (_SECRET_NAME.search(name) and len(value) >= 8):
            warnings.append(
                f"`env.{name}` looks like a credential and would be stored and sent in the "
                f"clear; move it to `secrets: {{{name}: env:{name}}}` and export {name} instead"
            )
    return warnings
