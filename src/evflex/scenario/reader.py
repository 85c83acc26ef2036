"""Read a scenario file's YAML safely: every file gives a mapping or one clear problem.

A scenario file comes from a user, so reading it must never hang, exhaust memory or
raise anything but :class:`ReadProblem`:

- only a regular file is opened (a folder, pipe, socket or device is refused before any
  byte is read; the file is opened non-blocking, so a FIFO cannot block);
- at most :data:`MAX_BYTES` are read; the text must be UTF-8;
- the libyaml C parser (``yaml.CSafeLoader``) reads it, first as a stream of events to
  cap the nesting depth (:data:`MAX_DEPTH`) and the number of nodes (:data:`MAX_NODES`)
  and to refuse anchors and aliases (a scenario never needs them; they are how a small
  file expands into a huge one);
- duplicate keys are refused (YAML loaders otherwise keep the last silently), and so are
  integers longer than :data:`MAX_INT_DIGITS` digits and impossible dates;
- numbers and booleans are read as YAML 1.2 reads them: ``20.0e6`` is a number, not a
  string, and ``NO`` (Norway) is a string, not ``False``.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

#: Largest scenario file read [bytes]: the shipped ``base.yaml`` is about 11 kB.
MAX_BYTES = 1_000_000
#: Deepest nesting of mappings and lists: a scenario nests about 7 levels.
MAX_DEPTH = 40
#: Most YAML nodes (scalars, mappings, lists) in one file: ``base.yaml`` has about 600.
MAX_NODES = 50_000
#: Longest integer literal [digits]: years and counts have far fewer.
MAX_INT_DIGITS = 30

_CLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ReadProblem(Exception):
    """A file that cannot be read as a YAML mapping: ``problem``, ``got``, ``expected``."""

    def __init__(self, problem: str, got: str, expected: str):
        super().__init__(problem)
        self.problem, self.got, self.expected = problem, got, expected


def read_text(path: Path) -> str:
    """The text of a regular, not too large, UTF-8 file; :class:`ReadProblem` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if isinstance(exc, IsADirectoryError):
            raise ReadProblem("a folder, not a file", str(path), "a YAML file") from None
        raise ReadProblem(f"cannot read: {exc.strerror or exc}", _short_path(path),
                          "a readable YAML file") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ReadProblem("a folder, not a file", _short_path(path), "a YAML file")
        if not stat.S_ISREG(info.st_mode):
            raise ReadProblem("not a regular file (a pipe, socket or device)",
                              _short_path(path), "a YAML file")
        if info.st_size > MAX_BYTES:
            raise ReadProblem("file too large", f"{info.st_size:,} bytes",
                              f"at most {MAX_BYTES:,} bytes")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ReadProblem(f"cannot read: {exc.strerror or exc}", _short_path(path),
                          "a readable YAML file") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:
        raise ReadProblem("file too large", f"more than {MAX_BYTES:,} bytes",
                          f"at most {MAX_BYTES:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadProblem(f"not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
                          "binary or another encoding", "UTF-8 text") from None


def _short_path(path: Path) -> str:
    text = str(path)
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"


def _scan(text: str) -> None:
    """Walk the event stream in C: cap depth and size, refuse anchors and aliases."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_CLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise ReadProblem(f"YAML anchors and aliases are not supported "
                              f"(at {_where(event.start_mark)})",
                              "&anchor or *alias", "each value written out")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ReadProblem(f"nested too deep (at {_where(event.start_mark)})",
                                  f"more than {MAX_DEPTH} levels",
                                  f"at most {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            nodes += 1
            if nodes > MAX_NODES:
                raise ReadProblem("too many values", f"more than {MAX_NODES:,}",
                                  f"at most {MAX_NODES:,} values")


class _Loader(_CLoader):
    """libyaml's safe loader that refuses duplicate keys, huge integers and bad dates."""


def _mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            raise ConstructorError(None, None, "a mapping key must be a plain value",
                                   key_node.start_mark) from None
        if first is not None:
            raise ConstructorError(None, None, f"duplicate key {key!r} (first at "
                                   f"{_where(first)})", key_node.start_mark)
        seen[key] = key_node.start_mark
    return dict(loader.construct_mapping(node, deep=True))


def _int(loader: Any, node: yaml.ScalarNode) -> int:
    digits = sum(c.isdigit() for c in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise ConstructorError(None, None, f"integer too long ({digits} digits, at most "
                               f"{MAX_INT_DIGITS})", node.start_mark)
    return int(SafeConstructor.construct_yaml_int(loader, node))


def _timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        raise ConstructorError(None, None, f"not a valid date {node.value!r}",
                               node.start_mark) from None


# YAML 1.2 floats: ``20.0e6`` and ``1e9`` are numbers (YAML 1.1, and so PyYAML, reads them
# as strings unless the exponent has a sign).
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))
# YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off, so the country
# code NO (Norway) would silently become the key False.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def load_yaml(text: str) -> Any:
    """Parse YAML text; :class:`ReadProblem` (with line and column) for anything wrong."""
    try:
        _scan(text)
        return yaml.load(text, Loader=_Loader)  # a safe loader (libyaml)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ReadProblem(f"invalid YAML at {_where(mark)}: {problem}", "text",
                          "YAML") from None
    except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
        raise ReadProblem(f"invalid YAML: {type(exc).__name__}: {str(exc)[:80]}", "text",
                          "YAML") from None


def read_mapping(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; :class:`ReadProblem` for anything else."""
    data = load_yaml(read_text(path))
    if not isinstance(data, dict):
        raise ReadProblem("not a mapping", type(data).__name__, "a YAML mapping of keys")
    return data
