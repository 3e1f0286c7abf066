"""YAML loading that remembers where every key came from, and refuses hostile documents.

PyYAML loses line numbers once it builds Python objects, so we walk the composed node tree
once: it gives each field path its line, catches duplicate keys (PyYAML silently keeps the
last), and bounds how far aliases may expand (a "billion laughs" document is a few hundred
bytes that expand to gigabytes) and how long a number may be.

Spec files, the config file and ``--set`` values all load here: one set of rules.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Union

import yaml

from mlx.errors import SpecError

Path = tuple[Union[str, int], ...]

MAX_NODES = 100_000
MAX_DEPTH = 64
# Python refuses to read longer integers (CVE-2020-10735); say so with the line instead.
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300

try:  # libyaml is several times faster where it is installed
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Base = yaml.SafeLoader


class _Loader(_Base):
    """SafeLoader with YAML 1.2 booleans: only true/false, so `off:` or `optimizer: no`
    stay strings instead of silently becoming False (the YAML 1.1 "Norway problem")."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()  # type: ignore[attr-defined]
    }


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class LocatedYaml:
    """A loaded document plus the line of each field path in it."""

    def __init__(self, data: Any, lines: dict[Path, int], filename: str) -> None:
        self.data = data
        self.lines = lines
        self.filename = filename
        self.visited = 0

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that the file has."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None

    def where(self, path: Path) -> str:
        line = self.line_of(path)
        return f"{self.filename}:{line}" if line else self.filename


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], doc: LocatedYaml) -> None:
    """Record lines below ``node``, counting visits (an alias counts each time it is used)."""
    doc.visited += 1
    if doc.visited > MAX_NODES:
        raise SpecError(
            f"{doc.filename}: the document expands to more than {MAX_NODES:,} values",
            hint="Aliases (*name) that repeat anchors many times are refused; write it out.",
        )
    if len(path) > MAX_DEPTH:
        raise SpecError(
            f"{doc.where(path)}: the document nests deeper than {MAX_DEPTH} levels",
            hint="A job spec is a few levels deep; check for runaway anchors or indentation.",
        )
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if key in seen:
                raise SpecError(
                    f"{doc.filename}:{key_node.start_mark.line + 1}: duplicate key "
                    f"`{'.'.join(map(str, child))}`",
                    hint="Each key may appear once; remove or merge the repeated one.",
                )
            seen.add(key)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _walk(value_node, child, lines, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*path, index), item.start_mark.line + 1)
            _walk(item, (*path, index), lines, doc)
    elif node.tag.endswith(":int") and len(node.value) > MAX_INT_DIGITS:
        raise SpecError(
            f"{doc.filename}:{node.start_mark.line + 1}: a number of {len(node.value):,} "
            f"digits (at most {MAX_INT_DIGITS:,})",
            hint="Quote it if it is meant as text.",
        )


class YamlSyntaxError(SpecError):
    """The text is not YAML (as opposed to YAML that breaks one of the limits above)."""


def load_yaml(text: str, filename: str) -> LocatedYaml:
    """Parse one YAML document, raising ``SpecError`` with the file and line on any problem
    (``YamlSyntaxError`` when the text is not YAML at all)."""
    doc = LocatedYaml(None, {}, filename)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return doc
        _walk(node, (), doc.lines, doc)
        doc.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f":{mark.line + 1}" if mark else ""
        problem = e.problem or e.context or "invalid YAML"
        raise YamlSyntaxError(
            f"{filename}{line}: {problem}",
            hint="Check the indentation and quoting around that line.",
        ) from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"{filename}: invalid YAML ({_one_line(e)})") from None
    except RecursionError:
        raise SpecError(f"{filename}: the document nests too deeply") from None
    except (ValueError, OverflowError) as e:  # a constructor's: a date like 2026-13-45
        raise SpecError(f"{filename}: a value cannot be read ({_one_line(e)})") from None
    finally:
        loader.dispose()
    return doc


def load_value(text: str, source: str) -> Any:
    """One value written as YAML outside a file (``--set KEY=VALUE``), read by the same
    loader and rules as spec files: YAML 1.2 booleans, bounded depth, aliases and numbers.
    """
    return load_yaml(text, source).data


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 200 else text[:200] + "..."
