"""The project's only YAML loader: strings only, no duplicates, no aliases, every node marked.

PyYAML's own loaders resolve plain scalars by pattern, so ``004010`` becomes 2056, ``064`` 52,
``12:30`` 750 and ``NO`` false: exactly the shape of X12 versions, qualifiers and codes. This
module never resolves anything. It reads the parser's event stream and builds the tree itself:

- every scalar, plain or quoted, is an :class:`MStr` exactly as written (an empty value is ``""``);
  pydantic does the typing;
- mappings are :class:`MDict`, sequences :class:`MList`; each node keeps its 1-based start mark,
  and mappings keep the marks of their keys and values, so :func:`mark_of` can point a pydantic
  error at ``file:line:col``;
- duplicate keys, anchors and aliases, tags other than the default ``str``/``map``/``seq``,
  collections used as keys, nesting deeper than :data:`MAX_DEPTH` and files over
  :data:`MAX_BYTES` are errors. All of them are collected (up to :data:`MAX_FINDINGS`) and raised
  together as one :class:`YamlError`; a syntax error or too deep a nesting ends the collection.

Aliases are refused at the event level, where they are never expanded, so an alias bomb costs no
more than its own bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pydantic
import yaml
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.scanner import Scanner

from edi.errors import EdiError

__all__ = [
    "CFG_ALIAS",
    "CFG_DUPLICATE_KEY",
    "CFG_ENCODING",
    "CFG_INVALID",
    "CFG_KEY_TYPE",
    "CFG_SYNTAX",
    "CFG_TAG",
    "CFG_TOO_DEEP",
    "CFG_TOO_LARGE",
    "CFG_TOO_MANY_ERRORS",
    "CFG_UNREADABLE",
    "HINTS",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_FINDINGS",
    "ConfigFinding",
    "MDict",
    "MList",
    "MStr",
    "Mark",
    "YamlError",
    "load_yaml",
    "load_yaml_text",
    "mark_of",
    "validation_findings",
]

MAX_BYTES: Final = 1024 * 1024
"""Largest configuration or mapping file accepted (1 MiB)."""
MAX_DEPTH: Final = 50
"""Deepest nesting of mappings and sequences accepted (the root collection is depth 1)."""
MAX_FINDINGS: Final = 100
"""Findings collected from one file before the loader stops looking."""

CFG_SYNTAX: Final = "CFG_SYNTAX"
CFG_DUPLICATE_KEY: Final = "CFG_DUPLICATE_KEY"
CFG_ALIAS: Final = "CFG_ALIAS"
CFG_TAG: Final = "CFG_TAG"
CFG_TOO_DEEP: Final = "CFG_TOO_DEEP"
CFG_TOO_LARGE: Final = "CFG_TOO_LARGE"
CFG_KEY_TYPE: Final = "CFG_KEY_TYPE"
CFG_ENCODING: Final = "CFG_ENCODING"
CFG_UNREADABLE: Final = "CFG_UNREADABLE"
CFG_TOO_MANY_ERRORS: Final = "CFG_TOO_MANY_ERRORS"
CFG_INVALID: Final = "CFG_INVALID"

HINTS: Final[dict[str, str]] = {
    CFG_SYNTAX: "fix the YAML at the marked position (indentation, a missing ':' or an unclosed quote or bracket)",
    CFG_DUPLICATE_KEY: "a key may appear once per mapping; delete or merge one of the two",
    CFG_ALIAS: "anchors (&) and aliases (*) are not supported; write the value out in full",
    CFG_TAG: "remove the tag: every value is read as text and the schema gives it its type",
    CFG_TOO_DEEP: f"nesting is limited to {MAX_DEPTH} levels; flatten the structure",
    CFG_TOO_LARGE: f"files are limited to {MAX_BYTES} bytes (1 MiB); split the file",
    CFG_KEY_TYPE: "a key must be plain text, not a mapping or a list",
    CFG_ENCODING: "save the file as UTF-8",
    CFG_UNREADABLE: "check the path and the file's permissions",
    CFG_TOO_MANY_ERRORS: f"only the first {MAX_FINDINGS} problems are listed; fix those and run again",
    CFG_INVALID: "fix the value at the marked position; the schema names the expected type and fields",
}
"""One short hint per loader code, copied into every finding of that code."""

_TAG_PREFIX: Final = "tag:yaml.org,2002:"
_ALLOWED_TAGS: Final[dict[type[Event], frozenset[str | None]]] = {
    ScalarEvent: frozenset({None, "!", _TAG_PREFIX + "str"}),
    MappingStartEvent: frozenset({None, "!", _TAG_PREFIX + "map"}),
    SequenceStartEvent: frozenset({None, "!", _TAG_PREFIX + "seq"}),
}


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in a file; ``str(mark)`` is ``file:line:col``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class MStr(str):
    """A YAML scalar: a plain ``str`` that remembers where it starts."""

    mark: Mark

    def __new__(cls, value: str, mark: Mark) -> MStr:
        """Make a marked string."""
        obj = super().__new__(cls, value)
        obj.mark = mark
        return obj

    def __getnewargs__(self) -> tuple[str, Mark]:  # type: ignore[override]
        """Arguments that rebuild this string on copy and unpickling."""
        return (str(self), self.mark)


class MDict(dict[str, Any]):
    """A YAML mapping that remembers its own start mark and those of its keys and values."""

    mark: Mark
    key_marks: dict[str, Mark]
    value_marks: dict[str, Mark]

    def __init__(self, mark: Mark) -> None:
        """Make an empty marked mapping."""
        super().__init__()
        self.mark = mark
        self.key_marks = {}
        self.value_marks = {}


class MList(list[Any]):
    """A YAML sequence that remembers its own start mark and that of every item."""

    mark: Mark
    item_marks: list[Mark]

    def __init__(self, mark: Mark) -> None:
        """Make an empty marked sequence."""
        super().__init__()
        self.mark = mark
        self.item_marks = []


@dataclass(frozen=True, slots=True)
class ConfigFinding:
    """One problem in a configuration or mapping file, with its position when known."""

    code: str
    message: str
    mark: Mark | None
    hint: str = ""
    file: str = ""
    """The file, for findings without a mark (a file too large or unreadable)."""

    def one_line(self) -> str:
        """``file:line:col: CODE message`` (``file: CODE message`` without a mark)."""
        where = str(self.mark) if self.mark is not None else (self.file or "<unknown>")
        return f"{where}: {self.code} {self.message}"


class YamlError(EdiError):
    """A YAML file cannot be loaded; ``findings`` lists every problem found, first one first."""

    code = CFG_SYNTAX

    def __init__(self, findings: Iterable[ConfigFinding]) -> None:
        """Raise the given findings (at least one) as one error."""
        self.findings: tuple[ConfigFinding, ...] = tuple(findings)
        if not self.findings:
            raise ValueError("YamlError needs at least one finding")
        super().__init__("\n".join(f.one_line() for f in self.findings), code=self.findings[0].code)

    def __reduce__(self) -> tuple[type[YamlError], tuple[tuple[ConfigFinding, ...]]]:
        """Pickle by findings (the constructor does not take a message)."""
        return (type(self), (self.findings,))


def load_yaml(path: str | Path) -> Any:
    """Load one YAML file as an MDict / MList / MStr tree; raise YamlError listing every problem."""
    name = str(path)
    try:
        with open(path, "rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            data = stream.read(MAX_BYTES + 1) if size <= MAX_BYTES else b""
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise YamlError([_file_finding(CFG_UNREADABLE, f"cannot read the file: {reason}", name)]) from exc
    if size > MAX_BYTES or len(data) > MAX_BYTES:
        raise YamlError([_too_large(max(size, len(data)), name)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        mark = _mark_at(data[: exc.start].decode("utf-8", "replace"), name)
        finding = ConfigFinding(CFG_ENCODING, f"not UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
                                mark, HINTS[CFG_ENCODING])
        raise YamlError([finding]) from exc
    return _compose(text, name)


def load_yaml_text(text: str, name: str = "<string>") -> Any:
    """Load YAML held in a string, exactly as :func:`load_yaml` loads a file named ``name``."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise YamlError([_too_large(size, name)])
    return _compose(text.removeprefix("\ufeff"), name)


def mark_of(tree: Any, loc: tuple[str | int, ...], *, key: bool = False) -> Mark | None:
    """The mark of the deepest node of ``tree`` that a pydantic ``loc`` reaches.

    A value's mark when the location exists, else the mark of the deepest mapping or sequence
    reached (a missing field points at the mapping that lacks it). With ``key=True`` a location
    ending at a mapping entry gives the key's mark instead (where an unknown field is named).
    Parts that match nothing and are not last are skipped: pydantic puts union tags and
    validator names such as ``function-after[...]`` into ``loc``. ``[key]`` points at the key.
    """
    node: Any = tree
    mark: Mark | None = getattr(tree, "mark", None)
    key_mark: Mark | None = None
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if part == "[key]" and key_mark is not None:
            return key_mark
        if isinstance(node, MDict) and isinstance(part, str) and part in node:
            key_mark = node.key_marks[part]
            mark = node.value_marks[part]
            node = node[part]
            if key and i == last:
                return key_mark
        elif isinstance(node, MList) and isinstance(part, int) and -len(node) <= part < len(node):
            key_mark = None
            mark = node.item_marks[part]
            node = node[part]
        elif i == last or isinstance(part, int):
            break
    return mark


def validation_findings(
    exc: pydantic.ValidationError, tree: Any, code: str = CFG_INVALID
) -> list[ConfigFinding]:
    """One finding per pydantic error: message ``<dotted.loc>: <msg>``, mark from :func:`mark_of`."""
    findings: list[ConfigFinding] = []
    file = str(tree.mark.file) if isinstance(tree, MStr | MDict | MList) else ""
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        mark = mark_of(tree, loc, key=error["type"] == "extra_forbidden")
        where = ".".join(str(part) for part in loc)
        message = f"{where}: {error['msg']}" if where else error["msg"]
        findings.append(ConfigFinding(code, message, mark, HINTS.get(code, ""), file))
    return findings


# --- composition ---------------------------------------------------------------------------------


class _EventSource(Reader, Scanner, Parser):
    """PyYAML's reader, scanner and parser without any composer, resolver or constructor."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)


@dataclass(slots=True)
class _Frame:
    """An open mapping or sequence while its events are read."""

    node: MDict | MList
    depth: int
    key: MStr | None = None
    key_mark: Mark | None = None
    want_key: bool = True
    skip_value: bool = False


@dataclass(slots=True)
class _Composer:
    """Builds the marked tree from parser events and collects findings instead of stopping."""

    name: str
    findings: list[ConfigFinding] = field(default_factory=list)
    stack: list[_Frame] = field(default_factory=list)
    root: Any = None
    have_root: bool = False

    def mark(self, event: Event) -> Mark:
        """The 1-based mark where ``event`` starts."""
        start = event.start_mark
        if start is None:  # the pure-Python parser always sets it
            return Mark(self.name, 1, 1)
        return Mark(self.name, start.line + 1, start.column + 1)

    def add(self, code: str, message: str, mark: Mark | None) -> None:
        """Record a finding; stop the run once there are too many."""
        self.findings.append(ConfigFinding(code, message, mark, HINTS[code], self.name))
        if len(self.findings) >= MAX_FINDINGS:
            self.findings.append(ConfigFinding(
                CFG_TOO_MANY_ERRORS, f"stopped after {MAX_FINDINGS} problems", mark,
                HINTS[CFG_TOO_MANY_ERRORS], self.name))
            raise _StopCollectingError

    def run(self, events: _EventSource) -> None:
        """Consume the whole event stream (one document at most)."""
        documents = 0
        while not events.check_event(StreamEndEvent):
            event = events.get_event()
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    self.add(CFG_SYNTAX, "more than one YAML document ('---'); a file holds one", self.mark(event))
                    return
            elif isinstance(event, NodeEvent):
                self.node_event(event)
            elif isinstance(event, MappingEndEvent | SequenceEndEvent):
                frame = self.stack.pop()
                self.attach(frame.node, frame.node.mark)

    def node_event(self, event: NodeEvent) -> None:
        """Handle a scalar, alias or collection start."""
        mark = self.mark(event)
        if isinstance(event, AliasEvent):
            self.add(CFG_ALIAS, f"alias '*{event.anchor}' is not allowed", mark)
            self.attach(MStr("", mark), mark)
            return
        if event.anchor is not None:
            self.add(CFG_ALIAS, f"anchor '&{event.anchor}' is not allowed", mark)
        tag = getattr(event, "tag", None)
        if tag not in _ALLOWED_TAGS[type(event)]:
            tag = str(tag)
            shown = "!!" + tag.removeprefix(_TAG_PREFIX) if tag.startswith(_TAG_PREFIX) else tag
            self.add(CFG_TAG, f"tag '{shown}' is not allowed", mark)
        if isinstance(event, ScalarEvent):
            self.attach(MStr(event.value, mark), mark)
            return
        depth = len(self.stack) + 1
        if depth > MAX_DEPTH:
            # Stop here: PyYAML's scanner is quadratic in flow depth, so skipping the rest could take minutes.
            self.add(CFG_TOO_DEEP, f"nesting deeper than {MAX_DEPTH} levels", mark)
            raise _StopCollectingError
        node: MDict | MList = MDict(mark) if isinstance(event, MappingStartEvent) else MList(mark)
        self.stack.append(_Frame(node, depth))

    def attach(self, value: Any, mark: Mark) -> None:
        """Put a finished node into its parent (or make it the root)."""
        if not self.stack:
            self.root, self.have_root = value, True
            return
        frame = self.stack[-1]
        parent = frame.node
        if isinstance(parent, MList):
            parent.append(value)
            parent.item_marks.append(mark)
        elif frame.want_key:
            frame.want_key = False
            frame.skip_value = True
            if not isinstance(value, MStr):
                kind = "mapping" if isinstance(value, MDict) else "sequence"
                self.add(CFG_KEY_TYPE, f"a {kind} cannot be a key", mark)
            elif value in parent:
                first = parent.key_marks[value]
                self.add(CFG_DUPLICATE_KEY, f"duplicate key '{value}' (first at line {first.line})", mark)
            else:
                frame.key, frame.key_mark, frame.skip_value = value, mark, False
        else:
            frame.want_key = True
            if not frame.skip_value and frame.key is not None and frame.key_mark is not None:
                parent[frame.key] = value
                parent.key_marks[frame.key] = frame.key_mark
                parent.value_marks[frame.key] = mark


class _StopCollectingError(Exception):
    """Raised inside the composer when looking further is pointless or too costly."""


def _compose(text: str, name: str) -> Any:
    """Parse ``text`` into a marked tree or raise YamlError with everything found."""
    composer = _Composer(name)
    try:
        composer.run(_EventSource(text))
    except _StopCollectingError:
        pass
    except yaml.MarkedYAMLError as exc:
        composer.findings.append(_syntax_finding(exc, name))
    except ReaderError as exc:
        composer.findings.append(_reader_finding(exc, text, name))
    if composer.findings:
        raise YamlError(composer.findings)
    if not composer.have_root:
        return MStr("", Mark(name, 1, 1))
    return composer.root


def _syntax_finding(exc: yaml.MarkedYAMLError, name: str) -> ConfigFinding:
    """A CFG_SYNTAX finding from a scanner or parser error."""
    where = exc.problem_mark or exc.context_mark
    mark = Mark(name, where.line + 1, where.column + 1) if where is not None else None
    message = exc.problem or "invalid YAML"
    if exc.context:
        context_mark = exc.context_mark
        started = f" started at line {context_mark.line + 1}" if context_mark is not None else ""
        message = f"{message} ({exc.context}{started})"
    return ConfigFinding(CFG_SYNTAX, message, mark, HINTS[CFG_SYNTAX], name)


def _reader_finding(exc: ReaderError, text: str, name: str) -> ConfigFinding:
    """A CFG_ENCODING finding for a character YAML does not allow (NUL, most control characters)."""
    character = exc.character
    shown = f"#x{character:04x}" if isinstance(character, int) else repr(character)
    mark = _mark_at(text[: exc.position], name)
    return ConfigFinding(CFG_ENCODING, f"character {shown} is not allowed in YAML", mark, HINTS[CFG_ENCODING], name)


def _mark_at(prefix: str, name: str) -> Mark:
    """The mark just after ``prefix`` (the text before the position)."""
    line = prefix.count("\n") + 1
    return Mark(name, line, len(prefix) - (prefix.rfind("\n") + 1) + 1)


def _too_large(size: int, name: str) -> ConfigFinding:
    """A CFG_TOO_LARGE finding."""
    return _file_finding(CFG_TOO_LARGE, f"the file is {size} bytes; the limit is {MAX_BYTES}", name)


def _file_finding(code: str, message: str, name: str) -> ConfigFinding:
    """A finding about the file as a whole (no mark)."""
    return ConfigFinding(code, message, None, HINTS[code], name)
