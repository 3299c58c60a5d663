"""Compile a mapping once, then apply it: source JSON view in, target model (or exceptions) out.

Expressions are JMESPath (compiled once, with a few registered X12-shaped functions). What is
simple is compiled to a direct accessor with the same result: plain dotted paths (``BEG.BEG03``)
and the ``SEG[QUAL].SEGnn`` shorthand (first ``SEG`` whose first element is ``QUAL``), which
otherwise compiles to ``SEG[?SEG01=='QUAL'] | [0].SEGnn``.

A mapping never yields a partial target: any rule error or exception leaves ``target`` None
(unless a line exception is configured to reject only that line).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import jmespath
from jmespath import functions as jp_functions
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ValidationError

from edi.errors import DocumentError
from edi.mapping.spec import Check, Lookup, MappingSpec, Rule
from edi.model import PurchaseOrder, PurchaseOrderAck, SalesOrder, ShipNotice

TARGETS: dict[str, type[BaseModel]] = {
    "sales_order": SalesOrder,
    "purchase_order": PurchaseOrder,
    "purchase_order_ack": PurchaseOrderAck,
    "ship_notice": ShipNotice,
}

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# QUAL with a letter, a leading zero or three characters is a qualifier (REF[CR], DTM[064]); a one- or
# two-digit number without a leading zero stays a JMESPath index (CSH[0])
_SHORTHAND = re.compile(
    r"([A-Z][A-Z0-9]{1,2})\[((?=[A-Za-z0-9 ]*[A-Za-z ])[A-Za-z0-9 ]{1,30}|0[0-9]{1,29}|[1-9][0-9]{2,29})\]"
    r"\.([A-Z][A-Z0-9]{1,2}[0-9]{2})")
_ID_PAIRS = re.compile(r"id_pairs\(\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\)")
_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_INDEXED = re.compile(rf"([A-Za-z_][A-Za-z0-9_]*)\[([0-9])\]\.({_PATH})")
_FILTER_FIRST = re.compile(rf"([A-Za-z_][A-Za-z0-9_]*)\[\?\s*({_PATH})\s*==\s*'([^'\\]*)'\s*\]\s*\|\s*\[0\]\.({_PATH})")
_GTIN_COLUMNS = frozenset({"upc", "ean", "gtin", "gtin14", "isbn13"})


class _Functions(jp_functions.Functions):
    """Registered functions available in mapping expressions."""

    @jp_functions.signature({"types": []})
    def _func_id_pairs(self, seg: Any) -> list[dict[str, str]]:
        """Product id pairs of a PO1-like segment as ``[{qualifier, value}]``: elements 06/07, 08/09, ...

        Anything but a segment object gives an empty list.
        """
        return id_pairs(seg if isinstance(seg, dict) else None, 6)

    @jp_functions.signature({"types": []}, {"types": ["number"]})
    def _func_id_pairs_from(self, seg: Any, first: int) -> list[dict[str, str]]:
        """Id pairs starting at element ``first`` (e.g. 2 for LIN02/LIN03)."""
        return id_pairs(seg if isinstance(seg, dict) else None, int(first))


def id_pairs(seg: dict[str, Any] | None, first: int = 6) -> list[dict[str, str]]:
    """A segment's (qualifier, value) pairs from element ``first`` on, as received (``id_pairs(PO1)``)."""
    if not seg:
        return []
    last_key = next(reversed(seg))
    sid, tail = last_key[:-2], last_key[-2:]
    last = int(tail) if tail.isdigit() else 99
    out = []
    for qk, vk in _pair_keys(sid, first, last):
        q = seg.get(qk)
        if q is not None:
            v = seg.get(vk)
            if v is not None and isinstance(q, str):
                out.append({"qualifier": q, "value": v})
    return out


@functools.lru_cache(maxsize=256)
def _pair_keys(sid: str, first: int, last: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{sid}{p:02d}", f"{sid}{p + 1:02d}") for p in range(first, min(last, 98), 2))


_OPTIONS = jmespath.Options(custom_functions=_Functions())
KNOWN_FUNCTIONS: frozenset[str] = frozenset(_Functions().FUNCTION_TABLE)
"""Every function a mapping expression may call: JMESPath's built-ins and ours (``id_pairs``, ``id_pairs_from``)."""


def expand_shorthand(expr: str) -> str:
    """``SEG[QUAL].SEGnn`` -> JMESPath; anything else unchanged."""
    m = _SHORTHAND.fullmatch(expr.strip())
    if not m:
        return expr
    seg, qual, fld = m.groups()
    return f"{seg}[?{seg}01=='{qual}'] | [0].{fld}"


def compile_expression(expr: str) -> Callable[[Any], Any]:
    """A getter for ``expr``: a direct accessor where the expression is simple, JMESPath otherwise."""
    text = expr.strip()
    m = _SHORTHAND.fullmatch(text)
    if m:
        seg, qual, fld = m.groups()
        first = f"{seg}01"

        def shorthand(doc: Any) -> Any:
            items = doc.get(seg) if isinstance(doc, dict) else None
            if not isinstance(items, list):
                return None
            for item in items:
                if isinstance(item, dict) and item.get(first) == qual:
                    return item.get(fld)
            return None

        return shorthand
    call = _ID_PAIRS.fullmatch(text)
    if call:
        inner = compile_expression(call.group(1))

        def pairs_of(doc: Any) -> Any:
            seg = inner(doc)
            return id_pairs(seg if isinstance(seg, dict) else None, 6)

        return pairs_of
    index = _INDEXED.fullmatch(text)
    if index:
        head, pos, rest = index.group(1), int(index.group(2)), compile_expression(index.group(3))

        def indexed(doc: Any) -> Any:
            items = doc.get(head) if isinstance(doc, dict) else None
            if not isinstance(items, list) or pos >= len(items):
                return None
            return rest(items[pos])

        return indexed
    flt = _FILTER_FIRST.fullmatch(text)
    if flt:
        head, cond_path, literal, rest_text = flt.groups()
        cond = compile_expression(cond_path)
        rest = compile_expression(rest_text)

        def filtered(doc: Any) -> Any:
            items = doc.get(head) if isinstance(doc, dict) else None
            if not isinstance(items, list):
                return None
            for item in items:
                if cond(item) == literal:
                    return rest(item)
            return None

        return filtered
    if _PLAIN.fullmatch(text):
        keys = text.split(".")

        def path(doc: Any) -> Any:
            for k in keys:
                if not isinstance(doc, dict):
                    return None
                doc = doc.get(k)
            return doc

        return path
    compiled = jmespath.compile(text)
    return lambda doc: compiled.search(doc, options=_OPTIONS)


def jmespath_reference(expr: str) -> Callable[[Any], Any]:
    """The pure-JMESPath getter (used by tests to prove the direct accessors equivalent)."""
    compiled = jmespath.compile(expand_shorthand(expr))
    return lambda doc: compiled.search(doc, options=_OPTIONS)


@dataclass(frozen=True, slots=True)
class MappingException:
    """A business problem found while mapping: goes to the exception log for a person."""

    code: str
    message: str
    hint: str
    field: str
    line: str | None = None
    value: str | None = None
    po: str | None = None


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """The document does not fit the mapping (a technical error with the rule's location)."""

    code: str
    message: str
    field: str
    line: str | None = None
    where: str = ""

    def one_line(self) -> str:
        """``file:line:col: CODE message``."""
        return f"{self.where}: {self.code} {self.message}" if self.where else f"{self.code} {self.message}"


@dataclass
class MappingResult:
    """What applying a mapping produced."""

    target: BaseModel | None
    data: dict[str, Any] | None
    exceptions: list[MappingException] = field(default_factory=list)
    failures: list[RuleFailure] = field(default_factory=list)
    rejected_lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """A target was produced."""
        return self.target is not None


class MappingFailedError(DocumentError):
    """Raised by strict callers when a mapping produced no target."""

    code = "MAPPING_FAILED"


class _Missing(Exception):  # noqa: N818 - internal control flow, never escapes
    def __init__(self, value: Any, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.value, self.reason, self.code = value, reason, code


class _Invalid(Exception):  # noqa: N818 - internal control flow, never escapes
    pass


class Table:
    """A CSV lookup table with lazily built per-column indexes (GTIN columns compared as GTIN-14)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            self.columns = tuple(reader.fieldnames or ())
            self.rows = [dict(r) for r in reader]
        self._index: dict[str, dict[str, dict[str, str]]] = {}

    @staticmethod
    def _norm(column: str, value: str) -> str:
        value = value.strip()
        if column.lower() in _GTIN_COLUMNS and value.isascii() and value.isdigit():
            return value.zfill(14)
        return value

    def find(self, column: str, value: str) -> dict[str, str] | None:
        """The first row whose ``column`` equals ``value``."""
        idx = self._index.get(column)
        if idx is None:
            idx = {}
            for row in self.rows:
                v = row.get(column) or ""
                if v.strip():
                    idx.setdefault(self._norm(column, v), row)
            self._index[column] = idx
        return idx.get(self._norm(column, value))


@dataclass
class _CompiledRule:
    name: str
    rule: Rule
    where: str
    getter: Callable[[Any], Any] | None
    table: Table | None
    fast: Callable[[Any], Any] | None = None  # success-path converter; None -> always the full path


_FAIL = object()
_ABSENT = object()  # an optional field whose source is missing: left out of the target
_ERROR = object()   # an expression failed while evaluating (recorded as a RuleFailure)


def _fast_converter(rule: Rule, table: Table | None) -> Callable[[Any], Any] | None:
    """A converter for the common success case, or None when the rule needs the full path.

    It returns ``_FAIL`` whenever anything is unusual (missing value, unmapped code, lookup miss,
    bad number, bound exceeded); the caller then runs the full path, which records why.
    """
    if rule.lookup is not None and table is not None and rule.map is None and (
            rule.as_ in ("string", "decimal", "integer")) and (
            rule.pattern is None and rule.min is None and rule.max is None):
        absent = rule.optional and rule.default is None  # a miss leaves the field out, as the full path does
        return _fast_lookup(rule.lookup, table, rule.as_, absent)
    if rule.pattern is not None or rule.as_ in ("date", "boolean") or rule.lookup is not None:
        return None
    code_map = rule.map
    lo = Decimal(rule.min) if rule.min is not None else None
    hi = Decimal(rule.max) if rule.max is not None else None
    cast = rule.as_

    def convert(raw: Any) -> Any:
        if raw is None or raw in ("", []):
            return _FAIL
        value = raw
        if code_map is not None:
            value = code_map.get(value) if isinstance(value, str) else None
            if value is None:
                return _FAIL
        if cast in ("integer", "decimal"):
            value = _fast_cast(cast, value)
            if value is _FAIL:
                return _FAIL
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return _FAIL
        return value

    del table
    return convert


def _fast_cast(cast: str, value: Any) -> Any:
    """``value`` as an integer (plain ASCII digits) or a Decimal, or ``_FAIL`` for the full path to explain."""
    if cast == "integer":
        return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else _FAIL
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return _FAIL


def _fast_lookup(lookup: Lookup, table: Table, cast: str, absent: bool) -> Callable[[Any], Any]:
    take, key, match = lookup.take, lookup.key, lookup.match
    miss = _ABSENT if absent else _FAIL

    def convert(raw: Any) -> Any:
        if raw is None or raw in ("", []):
            return miss
        row = None
        if key is not None:
            row = table.find(key, str(raw))
        elif isinstance(raw, list):
            for pair in raw:
                column = match.get(str(pair.get("qualifier"))) if isinstance(pair, dict) and match else None
                if column is not None:
                    row = table.find(column, str(pair.get("value", "")))
                    if row is not None:
                        break
        value = (row.get(take) or "").strip() if row is not None else ""
        if not value:
            return miss
        return _fast_cast(cast, value) if cast in ("integer", "decimal") else value

    return convert


class CompiledMapping:
    """A mapping file compiled once: expressions, lookups and the target model."""

    def __init__(self, spec: MappingSpec, base_dir: Path, marks: Mapping[str, str] | None = None,
                 source_file: str = "", table_files: Mapping[str, Path] | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.source_file = source_file
        self.marks = dict(marks or {})
        files = {name: base_dir / t.file for name, t in spec.lookups.items()} | dict(table_files or {})
        self.tables = {name: Table(path) for name, path in files.items()}
        self.target_model = TARGETS[spec.target]
        self.header = [self._compile(f"header.{n}", n, r) for n, r in spec.header.items()]
        self.lines = ([self._compile(f"lines.fields.{n}", n, r) for n, r in spec.lines.fields.items()]
                      if spec.lines else [])
        self.for_each = compile_expression(spec.lines.for_each) if spec.lines else None
        # each distinct line expression is evaluated once per line item, however many rules use it
        self.line_getters = {cr.rule.from_: cr.getter for cr in self.lines
                             if cr.rule.from_ is not None and cr.getter is not None}
        self.check_getters = [
            {k: compile_expression(v) for k, v in (c.count_equals or c.sum_equals or {}).items() if k == "source"}
            for c in spec.checks
        ]

    def _compile(self, path: str, name: str, rule: Rule) -> _CompiledRule:
        getter = compile_expression(rule.from_) if rule.from_ is not None else None
        table = self.tables[rule.lookup.table] if rule.lookup else None
        return _CompiledRule(name, rule, self.marks.get(path, self.source_file), getter, table,
                             _fast_converter(rule, table) if getter is not None else None)

    # -- applying --------------------------------------------------------------------------------

    def apply(self, view: Mapping[str, Any], *, reject_lines: bool = False) -> MappingResult:
        """Map one source document (its JSON view) to the target model.

        ``reject_lines`` applies ``on_exception: reject_line`` whatever the mapping says (the
        pipeline's last resort before an 855 deadline: answer unknown items rejected rather than late).
        """
        result = MappingResult(None, None)
        rejecting = reject_lines or (self.spec.lines is not None and self.spec.lines.on_exception == "reject_line")
        doc = dict(view)
        doc.setdefault("_constants", self.spec.constants)
        data: dict[str, Any] = {}
        for cr in self.header:
            raw = self._get(cr.getter, doc, result, cr.name, None, cr.where) if cr.getter is not None else cr.rule.value
            if raw is not _ERROR:
                self._store(cr, raw, data, result, None)
        if self.spec.lines is not None and self.for_each is not None:
            items = self._get(self.for_each, doc, result, "lines.for_each", None, self.source_file)
            if items is _ERROR or not isinstance(items, list):
                items = [] if items is None or items is _ERROR else [items]
            lines = []
            key = self.spec.lines.key
            key_rule = next((c for c in self.lines if c.name == key), None)
            for item in items:
                line: dict[str, Any] = {}
                line_no = None
                if key_rule is not None and key_rule.getter is not None:
                    raw = self._get(key_rule.getter, item, None, key, None, key_rule.where)
                    line_no = None if raw is None or raw is _ERROR else str(raw)
                exceptions_before, failures_before = len(result.exceptions), len(result.failures)
                values = {text: self._get(getter, item, result, text, line_no, self.source_file)
                          for text, getter in self.line_getters.items()}
                for cr in self.lines:
                    raw = values[cr.rule.from_] if cr.rule.from_ is not None else cr.rule.value
                    if raw is not _ERROR:
                        self._store(cr, raw, line, result, line_no)
                line_excepted = len(result.exceptions) > exceptions_before
                line_failed = len(result.failures) > failures_before
                if line_excepted and not line_failed and rejecting:
                    result.rejected_lines.append(line_no or "?")
                    continue
                lines.append(line)
            data["lines"] = lines
        for check, getters in zip(self.spec.checks, self.check_getters, strict=True):
            self._check(check, getters, doc, data, result)
        po = data.get("vendor_central_po_number")
        if po is not None and result.exceptions:
            result.exceptions = [dataclasses.replace(e, po=str(po)) for e in result.exceptions]
        if result.failures or (result.exceptions and not (rejecting and self._only_rejected_lines(result))):
            return result
        try:
            result.target = self.target_model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                top = str(err["loc"][0]) if err["loc"] else ""
                where = self.marks.get(f"header.{top}") or self.marks.get(
                    f"lines.fields.{err['loc'][-1]}") or self.source_file
                result.failures.append(RuleFailure("MAP_TARGET_INVALID", f"{loc}: {err['msg']}", loc, where=where))
            return result
        result.data = data
        return result

    @staticmethod
    def _get(getter: Callable[[Any], Any], doc: Any, result: MappingResult | None, name: str, line: str | None,
             where: str) -> Any:
        """Evaluate an expression; a JMESPath runtime error (unknown function, wrong argument type) is a failure."""
        try:
            return getter(doc)
        except JMESPathError as exc:
            if result is not None:
                result.failures.append(RuleFailure("MAP_EXPRESSION_FAILED", f"{name}: {exc}".replace("\n", " "),
                                                   name, line, where))
            return _ERROR

    def _store(self, cr: _CompiledRule, raw: Any, out: dict[str, Any], result: MappingResult,
               line: str | None) -> None:
        fast = cr.fast
        if fast is not None:
            value = fast(raw)
            if value is _ABSENT:
                return
            if value is not _FAIL:
                out[cr.name] = value
                return
        self._field(cr, raw, out, result, line)

    @staticmethod
    def _only_rejected_lines(result: MappingResult) -> bool:
        return all(e.line is not None and e.line in result.rejected_lines for e in result.exceptions)

    def _field(self, cr: _CompiledRule, raw: Any, out: dict[str, Any], result: MappingResult,
               line: str | None) -> None:
        rule = cr.rule
        try:
            value = self._resolve(cr, raw)
        except _Missing as miss:
            if rule.default is not None:
                try:
                    out[cr.name] = self._cast(rule, rule.default)
                except _Invalid as exc:
                    result.failures.append(RuleFailure("MAP_BAD_DEFAULT", f"{cr.name}: {exc}", cr.name, line, cr.where))
                return
            if rule.optional:
                return
            shown = _show(miss.value)
            if rule.on_missing is not None and rule.on_missing.exception:
                result.exceptions.append(MappingException(
                    rule.on_missing.exception, f"{cr.name}: {miss.reason}",
                    rule.on_missing.hint.replace("{value}", shown), cr.name, line, shown))
                return
            code = "UNMAPPED_CODE" if miss.code == "UNMAPPED" else "MAP_FIELD_MISSING"
            result.failures.append(RuleFailure(code, f"{cr.name}: {miss.reason}", cr.name, line, cr.where))
            return
        except _Invalid as exc:
            result.failures.append(RuleFailure("MAP_VALUE_INVALID", f"{cr.name}: {exc}", cr.name, line, cr.where))
            return
        out[cr.name] = value

    def _resolve(self, cr: _CompiledRule, raw: Any) -> Any:
        rule = cr.rule
        if raw is None or raw in ("", []):
            raise _Missing(raw, "no value in the source", "MISSING")
        value = raw
        if rule.map is not None:
            if not isinstance(value, str) or value not in rule.map:
                raise _Missing(value, f"code {_show(value)} is not in the map ({', '.join(sorted(rule.map))})",
                               "UNMAPPED")
            value = rule.map[value]
        if rule.lookup is not None:
            assert cr.table is not None
            value = self._lookup(rule.lookup, cr.table, value)
        if rule.as_ == "string" and not isinstance(value, str | list | dict):
            value = str(value)
        return self._check_bounds(rule, self._cast(rule, value) if isinstance(value, str) else value)

    def _lookup(self, lookup: Lookup, table: Table, value: Any) -> str:
        if lookup.key is not None:
            row = table.find(lookup.key, str(value))
        else:
            assert lookup.match is not None
            pairs = value if isinstance(value, list) else [value]
            row = None
            for pair in pairs:
                if not isinstance(pair, dict):
                    continue
                column = lookup.match.get(str(pair.get("qualifier")))
                if column is not None:
                    row = table.find(column, str(pair.get("value", "")))
                    if row is not None:
                        break
        if row is None or not (row.get(lookup.take) or "").strip():
            raise _Missing(value, f"{_show(value)} not found in table {lookup.table!r}", "LOOKUP")
        return row[lookup.take].strip()

    @staticmethod
    def _cast(rule: Rule, value: str) -> Any:
        try:
            if rule.as_ == "integer":
                d = Decimal(value)
                if d != d.to_integral_value():
                    raise _Invalid(f"{value!r} is not a whole number")
                return int(d)
            if rule.as_ == "decimal":
                return Decimal(value)
            if rule.as_ == "boolean":
                if value.lower() in ("true", "yes", "y", "1"):
                    return True
                if value.lower() in ("false", "no", "n", "0"):
                    return False
                raise _Invalid(f"{value!r} is not a boolean")
            if rule.as_ == "date":
                fmt = (rule.format or "CCYYMMDD").upper()
                if fmt == "CCYYMMDD":
                    if len(value) != 8 or not (value.isascii() and value.isdigit()):
                        raise _Invalid(f"{value!r} is not a CCYYMMDD date")
                    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
                if fmt == "YYMMDD":
                    return datetime.strptime(value, "%y%m%d").date()
                return date.fromisoformat(value)
        except (InvalidOperation, ValueError) as exc:
            raise _Invalid(f"{value!r} is not a valid {rule.as_}") from exc
        return value

    @staticmethod
    def _check_bounds(rule: Rule, value: Any) -> Any:
        if rule.pattern is not None and not re.fullmatch(rule.pattern, str(value)):
            raise _Invalid(f"{value!r} does not match {rule.pattern!r}")
        if rule.min is not None and isinstance(value, int | Decimal) and value < Decimal(rule.min):
            raise _Invalid(f"{value} is below the minimum {rule.min}")
        if rule.max is not None and isinstance(value, int | Decimal) and value > Decimal(rule.max):
            raise _Invalid(f"{value} is above the maximum {rule.max}")
        return value

    def _check(self, check: Check, getters: dict[str, Callable[[Any], Any]], doc: Any, data: dict[str, Any],
               result: MappingResult) -> None:
        """One whole-document check; numbers compare as numbers (``07`` equals ``7``)."""
        lines = data.get("lines") or []
        message = ""
        expected: Any = None
        if "source" in getters:
            expected = self._get(getters["source"], doc, result, f"checks.{check.exception}", None, self.source_file)
            if expected is _ERROR:
                return
        if check.count_equals is not None:
            count = len(lines) + len(result.rejected_lines)
            said = _number(expected)
            if said is None or said != count:
                message = f"{count} lines, the document says {_show(expected) or 'nothing'}"
        elif check.sum_equals is not None:
            fld = check.sum_equals["target"]
            values = [_number(x.get(fld) if isinstance(x, dict) else None, empty=0) for x in lines]
            said = _number(expected)
            if any(v is None for v in values):
                bad = next(x.get(fld) for x, v in zip(lines, values, strict=True) if v is None)
                message = f"{fld} {_show(bad)!r} is not a number, so its sum cannot be checked"
            elif not result.rejected_lines and (said is None or sum(v for v in values if v is not None) != said):
                total = sum(v for v in values if v is not None)
                message = f"sum of {fld} is {total}, the document says {_show(expected) or 'nothing'}"
        elif check.not_after is not None:
            early, late = data.get(check.not_after["earlier"]), data.get(check.not_after["later"])
            try:
                wrong = early is not None and late is not None and early > late
            except TypeError:
                wrong = False
                result.failures.append(RuleFailure(
                    "MAP_CHECK_FAILED", f"not_after: {_show(early)!r} and {_show(late)!r} cannot be compared",
                    "checks", None, self.source_file))
            if wrong:
                message = f"{check.not_after['earlier']} {early} is after {check.not_after['later']} {late}"
        if message:
            result.exceptions.append(MappingException(check.exception, message, check.hint, "checks"))


def _number(value: Any, empty: Decimal | int | None = None) -> Decimal | None:
    """A number from a source or target value (``"07"`` -> 7), ``empty`` for a missing one, else None."""
    if value is None or value == "":
        return None if empty is None else Decimal(empty)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict) and {"qualifier", "value"} <= set(value):
        return f"{value['qualifier']} {value['value']}"
    return "" if value is None else str(value)
