"""Everyday use on the local provider (rerun, tags, ``mlx open`` has no page)."""

from __future__ import annotations

from tests.backends.everyday import Everyday


class TestLocalEveryday(Everyday):
    """Local needs no hooks: tags are only recorded, and there is no console."""
