"""Keeping secrets out of what a run reports (its output tail and test messages).

A run's environment holds no secrets (limits.sandbox_environment) and
bubblewrap hides the home directory; without bubblewrap a candidate can still
read what the user can, and what it prints would go into reports and into the
model's next prompt. There, the values of this process's secret-looking
environment variables and private-key blocks are masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "[redacted]"
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE)
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL)
_MIN_LENGTH = 8  # shorter values ("1", "true") would mask ordinary text


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values worth masking, longest first (so that no part of one survives)."""
    values = {v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    text = _PRIVATE_KEY.sub(MASK, text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text
