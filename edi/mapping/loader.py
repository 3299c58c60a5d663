"""Load, check and compile mapping files; lint them.

Every problem is reported with ``file:line:col: CODE message``, all of them in one run:
schema errors, unknown target fields, expressions that do not compile, lookups naming missing
tables or columns, and (lint) codes a ``map`` lists that the guide's code list does not allow.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ValidationError

from edi.config.loader import ConfigFinding, Mark, YamlError, load_yaml, validation_findings
from edi.errors import DocumentError
from edi.mapping.engine import TARGETS, CompiledMapping, Table, expand_shorthand
from edi.mapping.spec import MappingSpec, Rule


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


def load_mapping(path: str | Path) -> CompiledMapping:
    """A compiled mapping, compiled once per version of the file and of the lookup tables beside it.

    Editing ``sku-xref.csv`` (say) is seen by the next call: support staff fix a cross-reference
    and replay the PO without restarting anything.
    """
    p = Path(path)
    try:
        mtime = p.stat().st_mtime_ns
    except OSError as exc:
        raise MappingSpecError([ConfigFinding("MAP_NOT_FOUND", f"cannot read mapping: {exc.strerror}", None)]) from exc
    tables = []
    for csv in sorted(p.parent.glob("*.csv")):
        try:
            st = csv.stat()
        except OSError:
            continue
        tables.append((csv.name, st.st_mtime_ns, st.st_size))
    return _load_cached(str(p), mtime, tuple(tables))


def lint_mapping(path: str | Path) -> list[ConfigFinding]:
    """Every problem of a mapping file, plus guide checks: codes in a ``map`` the guide does not allow.

    The partner's ``partner.yaml`` beside the mappings is checked against its own schema.
    """
    from edi.config.partner import PARTNER_FILE, PartnerSettings  # noqa: PLC0415

    if Path(path).name == PARTNER_FILE:
        return PartnerSettings.findings(Path(path))
    try:
        spec, tree = read_mapping(path)
    except MappingSpecError as exc:
        return list(exc.findings)
    findings: list[ConfigFinding] = []
    parts = spec.source.split("/")
    if len(parts) == 3 and parts[0] == "x12":
        from edi.x12.guide import ElementDef, default_registry  # noqa: PLC0415

        guide = default_registry("amazon").get(parts[2], parts[1])
        if guide is None:
            findings.append(ConfigFinding("MAP_UNKNOWN_SOURCE", f"no guide for {spec.source}", _mark(tree, "source")))
        else:
            codes = {el.xid: el.codes for seg in guide.segments() for el in seg.elements
                     if isinstance(el, ElementDef) and el.codes}
            sections = [("header", spec.header, tree.get("header", {}))]
            if spec.lines is not None:
                sections.append(("lines.fields", spec.lines.fields, tree["lines"].get("fields", {})))
            for section, rules, node in sections:
                for fname, rule in rules.items():
                    if rule.map is None or rule.from_ is None:
                        continue
                    element = rule.from_.strip().split(".")[-1]
                    allowed = codes.get(element)
                    if allowed is None:
                        continue
                    for code in sorted(set(rule.map) - set(allowed)):
                        findings.append(ConfigFinding(
                            "MAP_CODE_NOT_IN_GUIDE", f"{section}.{fname}: code {code!r} is not allowed for {element} "
                            f"by the guide ({', '.join(sorted(allowed))})", _mark(node, fname)))
    return findings
