"""Config files as admins write them: YAML with the line of every key, and problems that name
the file, key, line and fix.

Shared by ``sfsync.settings`` (sfsync.yaml, policy.yaml) and ``sfsync.mappers`` (mappings.yaml);
light on purpose (PyYAML only) so the pure mapping code may import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sfsync.errors import ConfigError


@dataclass(frozen=True)
class ConfigProblem:
    """One thing an admin must fix: where (file, key, line), what is wrong, and how to fix it."""

    file: str
    key: str
    message: str
    fix: str
    line: int | None = None

    @property
    def location(self) -> str:
        """``file:line`` when the line is known, else the file (or ``environment``)."""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        return f"{self.location}: {self.key}: {self.message} (fix: {self.fix})"


class InvalidConfigError(ConfigError):
    """The configuration has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        super().__init__(tuple(problems))
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{count} configuration problem{'s' if count != 1 else ''}:"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


@dataclass
class YamlDocument:
    """A parsed YAML mapping plus the line of every key, for error messages."""

    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple[str, ...], int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str]) -> int | None:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None


def read_yaml_document(path: Path, problems: list[ConfigProblem]) -> YamlDocument | None:
    """Parse ``path``; on failure add a problem (with line and column) and return None."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(
            ConfigProblem(
                shown,
                "(file)",
                "file not found",
                f"create it (start from config/{path.name} in the sfsync repository) or pass "
                "--config / set SFSYNC_CONFIG",
            )
        )
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(
            ConfigProblem(shown, "(file)", f"cannot read: {error}", "make it a readable UTF-8 file")
        )
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        problems.append(_yaml_syntax_problem(shown, error))
        return None
    except yaml.YAMLError as error:
        problems.append(ConfigProblem(shown, "(file)", f"invalid YAML: {error}", "fix the syntax"))
        return None
    document = YamlDocument(path)
    if data is None:
        return document
    if not isinstance(data, dict):
        problems.append(
            ConfigProblem(
                shown,
                "(top level)",
                f"the file must be a mapping of keys, not a {type(data).__name__}",
                "write it as `section:` lines with indented `key: value` lines under them",
                line=1,
            )
        )
        return None
    document.data = data
    _record_lines(node, (), document, problems)
    return document


def _yaml_syntax_problem(shown: str, error: yaml.MarkedYAMLError) -> ConfigProblem:
    """Turn a PyYAML parse error into a problem at its line and column."""
    mark = error.problem_mark or error.context_mark
    where = f" (column {mark.column + 1})" if mark is not None else ""
    what = " ".join(part for part in (error.context, error.problem) if part)
    return ConfigProblem(
        shown,
        "(syntax)",
        f"invalid YAML{where}: {what}",
        "fix the indentation or quoting at that line (quote values containing ': ' or '#')",
        line=mark.line + 1 if mark is not None else None,
    )


def _record_lines(
    node: yaml.Node | None,
    prefix: tuple[str, ...],
    document: YamlDocument,
    problems: list[ConfigProblem],
) -> None:
    """Record the line of every key under ``node``; duplicate keys are problems."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            path = (*prefix, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    ConfigProblem(
                        str(document.path),
                        ".".join(path),
                        "duplicate key: the later value silently replaces the earlier one",
                        "keep one of them",
                        line=line,
                    )
                )
            seen.add(key)
            document.lines[path] = line
            _record_lines(value_node, path, document, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            path = (*prefix, str(index))
            document.lines[path] = item.start_mark.line + 1
            _record_lines(item, path, document, problems)
