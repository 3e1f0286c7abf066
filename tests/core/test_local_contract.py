"""The backend contract on the local provider: the contract's script really runs."""

from __future__ import annotations

from tests.backends.contract import BackendContract


class TestLocalContract(BackendContract):
    """Local needs no hooks: its jobs run ``SCRIPT`` themselves."""
