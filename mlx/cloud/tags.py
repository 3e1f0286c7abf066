"""The spec's ``tags:``, checked against a provider's rules for tags or labels before any
call (botocore checks no pattern or length; the others answer a bad tag only at create).

Each provider declares its ``TagRules`` beside its render code, citing its documentation;
``check`` says in one line which tag breaks which rule, and where the rules are written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlx.errors import SpecError


@dataclass(frozen=True)
class TagRules:
    """What a provider accepts as a tag (SageMaker, Azure ML) or label (Vertex AI).

    Attributes:
        word: how the provider calls them (``tags``, ``labels``).
        key: a full-match pattern for keys (length included).
        value: a full-match pattern for values (length included).
        rule: the rule in words, for the error.
        max_count: how many the user may give (the provider's limit less mlx's own).
        reserved: key prefixes the provider keeps for itself.
        source: where the rules are documented.
    """

    word: str
    key: str
    value: str
    rule: str
    max_count: int
    source: str
    reserved: tuple[str, ...] = ()


def check(tags: dict[str, str], rules: TagRules, provider: str) -> None:
    """Refuse ``tags`` that ``rules`` do not allow, naming the first that breaks one."""
    hint = f"{provider} {rules.word}: {rules.rule} ({rules.source})."
    if len(tags) > rules.max_count:
        raise SpecError(
            f"`tags`: {len(tags)} given; {provider} takes at most {rules.max_count} "
            f"besides mlx's own",
            hint=hint,
        )
    for key, value in tags.items():
        if key.lower().startswith(rules.reserved) or not re.fullmatch(rules.key, key):
            raise SpecError(f"`tags`: {key!r} is not a valid {provider} key", hint=hint)
        if not re.fullmatch(rules.value, value):
            raise SpecError(f"`tags.{key}`: {value!r} is not a valid {provider} value", hint=hint)
