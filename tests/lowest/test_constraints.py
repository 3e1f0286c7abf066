"""tests/constraints-lowest.txt pins exactly the minimums pyproject.toml allows, so
`tests/lowest/run` tests what a user with the oldest allowed versions gets."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A requirement with a minimum: "name>=1.2", maybe with an upper bound ("name>=1.2,<2");
# extras and markers are not used here.
REQUIREMENT = re.compile(r'"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)(?:,<[0-9.]+)?"')


def minimums() -> dict[str, str]:
    """name -> minimum, from `dependencies` and every extra but `test` (the test tools
    float: they are not what users install)."""
    text = (ROOT / "pyproject.toml").read_text()
    project = text[text.index("[project]") : text.index("[project.scripts]")]
    test = project.index("\ntest = [")
    kept = project[:test] + project[project.index("]\n", test) :]
    return {name.lower(): low for name, low in REQUIREMENT.findall(kept)}


def pins() -> dict[str, str]:
    text = (ROOT / "tests" / "constraints-lowest.txt").read_text()
    found = re.findall(r"^([A-Za-z0-9_.-]+)==([0-9][0-9.]*)$", text, re.MULTILINE)
    return {name.lower(): version for name, version in found}


def release(text: str) -> tuple[int, ...]:
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def test_every_minimum_is_pinned_at_its_lowest() -> None:
    wanted, pinned = minimums(), pins()
    assert {"typer", "boto3", "google-cloud-aiplatform", "azure-ai-ml", "optuna"} <= set(wanted)
    assert set(pinned) == set(wanted)
    for name, low in wanted.items():
        assert release(pinned[name]) == release(low), name
