"""Load, check and compile mapping files; lint them.

Every problem is reported with ``file:line:col: CODE message``, all of them in one run:
schema errors, unknown target fields, expressions that do not compile, lookups naming missing
tables or columns, and (lint) codes a ``map`` lists that the guide's code list does not allow.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ValidationError

from edi.config.loader import ConfigFinding, Mark, YamlError, load_yaml, validation_findings
from edi.errors import DocumentError
from edi.mapping.engine import KNOWN_FUNCTIONS, TARGETS, CompiledMapping, Table, expand_shorthand
from edi.mapping.spec import MappingSpec, Rule

CHECK_KEYS: dict[str, frozenset[str]] = {
    "count_equals": frozenset({"target", "source"}),
    "sum_equals": frozenset({"target", "source"}),
    "not_after": frozenset({"earlier", "later"}),
}
"""The closed list of whole-document checks and the keys each one takes."""


class MappingSpecError(DocumentError):
    """A mapping file is invalid; ``findings`` lists every problem with its location."""

    code = "MAP_INVALID"

    def __init__(self, findings: list[ConfigFinding]) -> None:
        super().__init__("\n".join(f.one_line() for f in findings))
        self.findings = tuple(findings)


def _mark(node: Any, key: str | None = None) -> Mark | None:
    if key is not None:
        marks = getattr(node, "key_marks", None)
        if marks and key in marks:
            return marks[key]
    return getattr(node, "mark", None)


def _line_model(target: type[BaseModel]) -> type[BaseModel] | None:
    field = target.model_fields.get("lines")
    if field is None:
        return None
    args = getattr(field.annotation, "__args__", ())
    return next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _check_rules(spec: MappingSpec, tree: Any, base: Path, findings: list[ConfigFinding]) -> None:
    target = TARGETS[spec.target]
    line_model = _line_model(target)
    tables: dict[str, Table] = {}
    for name, table in spec.lookups.items():
        path = base / table.file
        if not path.is_file():
            findings.append(ConfigFinding("MAP_UNKNOWN_TABLE_FILE", f"lookup table {name!r}: file {table.file!r} "
                                          "does not exist", _mark(tree.get("lookups", {}), name)))
            continue
        tables[name] = Table(path)

    def check(section: str, rules: dict[str, Rule], node: Any, model: type[BaseModel] | None) -> None:
        for fname, rule in rules.items():
            where = _mark(node, fname)
            if model is not None and fname not in model.model_fields:
                known = ", ".join(sorted(model.model_fields))
                findings.append(ConfigFinding("MAP_UNKNOWN_FIELD", f"{section}.{fname}: {model.__name__} has no field "
                                              f"{fname!r} (known: {known})", where))
            if rule.from_ is not None:
                try:
                    jmespath.compile(expand_shorthand(rule.from_))
                except JMESPathError as exc:
                    findings.append(ConfigFinding("MAP_BAD_EXPRESSION", f"{section}.{fname}: {rule.from_!r} does not "
                                                  f"compile: {exc}", where))
            if rule.lookup is not None:
                lk = rule.lookup
                table = tables.get(lk.table)
                if lk.table not in spec.lookups:
                    findings.append(ConfigFinding("MAP_UNKNOWN_TABLE", f"{section}.{fname}: lookup table {lk.table!r} "
                                                  f"is not defined (known: {', '.join(sorted(spec.lookups))})", where))
                elif table is not None:
                    wanted = [lk.take, *([lk.key] if lk.key else []), *(lk.match or {}).values()]
                    for col in wanted:
                        if col not in table.columns:
                            findings.append(ConfigFinding(
                                "MAP_UNKNOWN_COLUMN", f"{section}.{fname}: table {lk.table!r} has no column {col!r} "
                                f"(columns: {', '.join(table.columns)})", where))

    check("header", spec.header, tree.get("header", {}), target)
    checks_node = tree.get("checks") or []
    for i, chk in enumerate(spec.checks):
        node = checks_node[i] if i < len(checks_node) else None
        used = [(name, getattr(chk, name)) for name in CHECK_KEYS if getattr(chk, name) is not None]
        if len(used) != 1:
            findings.append(ConfigFinding("MAP_BAD_CHECK", f"checks[{i}]: needs exactly one of "
                                          f"{', '.join(CHECK_KEYS)} (found {len(used)})", _mark(node)))
            continue
        name, args = used[0]
        wanted = CHECK_KEYS[name]
        for key in sorted(set(args) - wanted):
            findings.append(ConfigFinding("MAP_BAD_CHECK", f"checks[{i}].{name}: unknown key {key!r} (keys: "
                                          f"{', '.join(sorted(wanted))})", _mark(node, name)))
        for key in sorted(wanted - set(args)):
            findings.append(ConfigFinding("MAP_BAD_CHECK", f"checks[{i}].{name}: {key!r} is missing",
                                          _mark(node, name)))
        if "source" in args:
            try:
                jmespath.compile(expand_shorthand(args["source"]))
            except JMESPathError as exc:
                findings.append(ConfigFinding("MAP_BAD_EXPRESSION", f"checks[{i}].{name}: {args['source']!r} does "
                                              f"not compile: {exc}", _mark(node, name)))
    if spec.lines is not None:
        lines_node = tree.get("lines", {})
        check("lines.fields", spec.lines.fields, lines_node.get("fields", {}) if hasattr(lines_node, "get") else {},
              line_model)


def _marks(tree: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    header = tree.get("header") if hasattr(tree, "get") else None
    for name in header or {}:
        m = _mark(header, name)
        if m:
            out[f"header.{name}"] = str(m)
    lines = tree.get("lines") if hasattr(tree, "get") else None
    fields = lines.get("fields") if isinstance(lines, dict) else None
    for name in fields or {}:
        m = _mark(fields, name)
        if m:
            out[f"lines.fields.{name}"] = str(m)
    return out


def read_mapping(path: str | Path) -> tuple[MappingSpec, Any]:
    """Load and validate a mapping file; raises ``MappingSpecError`` with every finding."""
    p = Path(path)
    try:
        tree = load_yaml(p)
    except YamlError as exc:
        raise MappingSpecError(list(exc.findings)) from exc
    try:
        spec = MappingSpec.model_validate(tree)
    except ValidationError as exc:
        raise MappingSpecError(validation_findings(exc, tree, "MAP_SCHEMA")) from exc
    findings: list[ConfigFinding] = []
    _check_rules(spec, tree, p.parent, findings)
    if findings:
        raise MappingSpecError(findings)
    return spec, tree


@functools.lru_cache(maxsize=64)
def _load_cached(path: str, mtime_ns: int, tables: tuple[tuple[str, int, int], ...]) -> CompiledMapping:
    del mtime_ns, tables  # cache keys: a new version of the file or of a table beside it compiles anew
    spec, tree = read_mapping(path)
    return CompiledMapping(spec, Path(path).parent, _marks(tree), source_file=path)


def load_mapping(path: str | Path, tables: Mapping[str, Path] | None = None) -> CompiledMapping:
    """A compiled mapping, compiled once per version of the file and of the lookup tables beside it.

    Editing ``sku-xref.csv`` (say) is seen by the next call: support staff fix a cross-reference
    and replay the PO without restarting anything. ``tables`` replaces lookup tables by name (the
    golden tests use fixture tables of their own, so operators editing the live ones break nothing).
    """
    p = Path(path)
    if tables:
        spec, tree = read_mapping(p)
        unknown = sorted(set(tables) - set(spec.lookups))
        if unknown:
            raise MappingSpecError([ConfigFinding("MAP_UNKNOWN_TABLE", f"table override {name!r}: the mapping has "
                                                  f"no lookup table of that name (known: "
                                                  f"{', '.join(sorted(spec.lookups))})", None) for name in unknown])
        return CompiledMapping(spec, p.parent, _marks(tree), source_file=str(p), table_files=tables)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise MappingSpecError([ConfigFinding("MAP_NOT_FOUND", f"cannot read mapping: {exc.strerror}", None)]) from exc
    versions = []
    for csv in sorted(p.parent.glob("*.csv")):
        try:
            st = csv.stat()
        except OSError:
            continue
        versions.append((csv.name, st.st_mtime_ns, st.st_size))
    return _load_cached(str(p), mtime, tuple(versions))


def mapping_files(path: str | Path) -> list[Path]:
    """A mapping file itself, or every mapping (and ``partner.yaml``) under a folder, as ``mapping test`` walks.

    Test files (``*.test.yaml``) are not mappings and are left out.
    """
    p = Path(path)
    if p.is_file():
        return [p]
    return sorted(f for f in p.rglob("*.yaml") if not f.name.endswith(".test.yaml"))


def lint_mapping(path: str | Path) -> list[ConfigFinding]:
    """Every problem of a mapping file, plus what only the guide and the target model can tell.

    Beyond loading (schema, fields, expressions, tables and columns, check keys): source elements
    the guide does not have, functions JMESPath and we do not define, required target fields no rule
    fills, codes in a ``map`` and product-id qualifiers in a lookup ``match`` the guide does not
    allow, and exception codes that are not in the closed list (``edi explain CODE``). The partner's
    ``partner.yaml`` beside the mappings is checked against its own schema.
    """
    from edi.config.partner import PARTNER_FILE, PartnerSettings  # noqa: PLC0415

    if Path(path).name == PARTNER_FILE:
        return PartnerSettings.findings(Path(path))
    try:
        spec, tree = read_mapping(path)
    except MappingSpecError as exc:
        return list(exc.findings)
    findings: list[ConfigFinding] = []
    sections: list[tuple[str, dict[str, Rule], Any]] = [("header", spec.header, tree.get("header", {}))]
    if spec.lines is not None:
        sections.append(("lines.fields", spec.lines.fields, tree["lines"].get("fields", {})))
    _lint_targets(spec, tree, findings)
    _lint_expressions(spec, tree, sections, findings)
    _lint_exception_codes(spec, tree, sections, findings)
    parts = spec.source.split("/")
    if len(parts) == 3 and parts[0] == "x12":
        from edi.x12.guide import default_registry  # noqa: PLC0415

        guide = default_registry("amazon").get(parts[2], parts[1])
        if guide is None:
            findings.append(ConfigFinding("MAP_UNKNOWN_SOURCE", f"no guide for {spec.source}", _mark(tree, "source")))
        else:
            _lint_against_guide(guide, spec, tree, sections, findings)
    return findings


def _nearest(word: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _lint_targets(spec: MappingSpec, tree: Any, findings: list[ConfigFinding]) -> None:
    """Required fields of the target (and of its lines) that no rule fills."""
    target = TARGETS[spec.target]
    line_model = _line_model(target)
    filled = set(spec.header) | ({"lines"} if spec.lines is not None else set())
    for name, info in target.model_fields.items():
        if info.is_required() and name not in filled:
            findings.append(ConfigFinding("MAP_MISSING_FIELD", f"header: required field {name!r} of "
                                          f"{target.__name__} has no rule", _mark(tree, "header")))
    if spec.lines is not None and line_model is not None:
        for name, info in line_model.model_fields.items():
            if info.is_required() and name not in spec.lines.fields:
                findings.append(ConfigFinding("MAP_MISSING_FIELD", f"lines.fields: required field {name!r} of "
                                              f"{line_model.__name__} has no rule", _mark(tree.get("lines"), "fields")))


def _functions(node: Any) -> Iterable[str]:
    """Names of the functions a parsed JMESPath expression calls."""
    if isinstance(node, dict):
        if node.get("type") == "function_expression":
            yield str(node.get("value"))
        for child in node.get("children", ()):
            yield from _functions(child)
    elif isinstance(node, list):
        for child in node:
            yield from _functions(child)


def _expressions(spec: MappingSpec, sections: list[tuple[str, dict[str, Rule], Any]]
                 ) -> Iterable[tuple[str, str, Any, str]]:
    """(where, expression, yaml node, key) of every expression in a mapping."""
    for section, rules, node in sections:
        for fname, rule in rules.items():
            if rule.from_ is not None:
                yield f"{section}.{fname}", rule.from_, node, fname
    if spec.lines is not None:
        yield "lines.for_each", spec.lines.for_each, None, "for_each"
    for i, chk in enumerate(spec.checks):
        for args in (chk.count_equals, chk.sum_equals):
            if args and "source" in args:
                yield f"checks[{i}]", args["source"], None, "source"


def _lint_expressions(spec: MappingSpec, tree: Any, sections: list[tuple[str, dict[str, Rule], Any]],
                      findings: list[ConfigFinding]) -> None:
    """Functions that neither JMESPath nor our registry defines (they would fail on every document)."""
    known = set(KNOWN_FUNCTIONS)
    for where, expr, node, key in _expressions(spec, sections):
        try:
            parsed = jmespath.compile(expand_shorthand(expr)).parsed
        except JMESPathError:
            continue  # reported by read_mapping
        for name in sorted(set(_functions(parsed)) - known):
            mark = _mark(node, key) if node is not None else _mark(tree, "lines" if "lines" in where else "checks")
            findings.append(ConfigFinding("MAP_UNKNOWN_FUNCTION", f"{where}: unknown function {name}() in {expr!r}"
                                          f"{_nearest(name, known)}", mark))


def _lint_exception_codes(spec: MappingSpec, tree: Any, sections: list[tuple[str, dict[str, Rule], Any]],
                          findings: list[ConfigFinding]) -> None:
    """Exception codes must be in the closed list (a misspelt one would never match a runbook)."""
    from edi.errors import CODES  # noqa: PLC0415

    for section, rules, node in sections:
        for fname, rule in rules.items():
            code = rule.on_missing.exception if rule.on_missing else None
            if code and code not in CODES:
                findings.append(ConfigFinding("MAP_UNKNOWN_EXCEPTION", f"{section}.{fname}: exception code {code!r} "
                                              f"is not a known code{_nearest(code, CODES)}", _mark(node, fname)))
    checks_node = tree.get("checks") or []
    for i, chk in enumerate(spec.checks):
        if chk.exception not in CODES:
            node = checks_node[i] if i < len(checks_node) else None
            findings.append(ConfigFinding("MAP_UNKNOWN_EXCEPTION", f"checks[{i}]: exception code {chk.exception!r} "
                                          f"is not a known code{_nearest(chk.exception, CODES)}",
                                          _mark(node, "exception")))


_ELEMENT_REF = re.compile(r"\b([A-Z][A-Z0-9]{1,2})([0-9]{2})\b")
_PAIRS_CALL = re.compile(
    r"id_pairs(?:_from)?\(\s*(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Z][A-Z0-9]{1,2})\s*(?:,\s*([0-9]+))?\)")


def _lint_against_guide(guide: Any, spec: MappingSpec, tree: Any, sections: list[tuple[str, dict[str, Rule], Any]],
                        findings: list[ConfigFinding]) -> None:
    from edi.x12.guide import CompositeDef, ElementDef  # noqa: PLC0415

    codes: dict[str, frozenset[str]] = {}
    elements: set[str] = set()
    for seg in guide.segments():
        for el in seg.elements:
            elements.add(el.xid)
            if isinstance(el, ElementDef) and el.codes:
                codes[el.xid] = el.codes
            if isinstance(el, CompositeDef):
                elements.update(c.xid for c in el.components)
    for where, expr, node, key in _expressions(spec, sections):
        quoted = set(re.findall(r"'[^']*'", expr))
        text = expr
        for q in quoted:
            text = text.replace(q, "''")
        for sid, num in _ELEMENT_REF.findall(text):
            xid = sid + num
            if xid not in elements:
                mark = _mark(node, key) if node is not None else _mark(tree, "lines" if "lines" in where else "checks")
                findings.append(ConfigFinding("MAP_UNKNOWN_ELEMENT", f"{where}: {xid} is not an element of the "
                                              f"{guide.set_id} {guide.version} guide{_nearest(xid, elements)}", mark))
    for section, rules, node in sections:
        for fname, rule in rules.items():
            if rule.from_ is None:
                continue
            if rule.map is not None:
                element = rule.from_.strip().split(".")[-1]
                allowed = codes.get(element, frozenset())
                for code in sorted(set(rule.map) - allowed) if allowed else ():
                    findings.append(ConfigFinding(
                        "MAP_CODE_NOT_IN_GUIDE", f"{section}.{fname}: code {code!r} is not allowed for {element} "
                        f"by the guide ({', '.join(sorted(allowed))})", _mark(node, fname)))
            call = _PAIRS_CALL.search(rule.from_)
            if rule.lookup is not None and rule.lookup.match and call:
                qualifier = f"{call.group(1)}{int(call.group(2) or 6):02d}"
                allowed = codes.get(qualifier, frozenset())
                for code in sorted(set(rule.lookup.match) - allowed) if allowed else ():
                    findings.append(ConfigFinding(
                        "MAP_CODE_NOT_IN_GUIDE", f"{section}.{fname}: product-id qualifier {code!r} is not allowed "
                        f"for {qualifier} by the guide ({', '.join(sorted(allowed))})", _mark(node, fname)))
