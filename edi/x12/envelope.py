"""The ISA header: delimiters, fixed-width layout and value checks, and the envelope tables.

The ISA is the only fixed-width segment in X12: 106 characters, the element separator at
offset 3, ISA16 (component separator) at offset 104 and the segment terminator at 105. Everything
else about an interchange is read with the delimiters found here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ISA_LENGTH = 106
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
SEPARATOR_OFFSETS = tuple(3 + sum(ISA_WIDTHS[:i]) + i for i in range(16))

# GS01 functional identifier → ST01 transaction sets it may carry
GROUP_SETS: dict[str, frozenset[str]] = {
    "PO": frozenset({"850"}),
    "PR": frozenset({"855"}),
    "SH": frozenset({"856"}),
    "IN": frozenset({"810"}),
    "IB": frozenset({"846"}),
    "PC": frozenset({"860"}),
    "CA": frozenset({"865"}),
    "FA": frozenset({"997"}),
}
SET_GROUP = {s: g for g, sets in GROUP_SETS.items() for s in sets}

ID_QUALIFIERS = frozenset({
    "01", "02", "03", "04", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20",
    "24", "27", "28", "29", "30", "33", "ZZ",
})
AUTH_QUALIFIERS = frozenset(["00", "01", "02", "03", "04", "05", "06"])
SECURITY_QUALIFIERS = frozenset({"00", "01"})
# control versions whose envelope is the 004010 layout (ISA11 = 'U' standards identifier)
VERSIONS_4010_FAMILY = frozenset({
    "00200", "00201", "00204", "00300", "00301", "00302", "00303", "00304", "00305", "00306", "00307", "00400",
    "00401",
})
VERSIONS_5010 = frozenset({"00501"})
# ISA12 control versions accepted by default: the interchange envelope version is independent of the
# groups' GS08 (00402-00406 carrying 004010 groups are common), so every published one up to 00501
CONTROL_VERSIONS = VERSIONS_4010_FAMILY | frozenset({"00402", "00403", "00404", "00405", "00406", "00500"}) | (
    VERSIONS_5010)
_DELIMITER_NAMES = {"element": "element separator", "segment": "segment terminator",
                    "component": "component separator (ISA16)", "repetition": "repetition separator (ISA11)"}


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The four X12 delimiters of one interchange."""

    element: str = "*"
    component: str = ">"
    segment: str = "~"
    repetition: str | None = None

    @property
    def isa11(self) -> str:
        """What ISA11 holds when writing: the repetition separator, or 'U'."""
        return self.repetition or "U"


@dataclass(frozen=True, slots=True)
class IsaProblem:
    """One thing wrong with an ISA, and its TA105 code."""

    ta105: str
    code: str
    message: str
    element: int | None = None


@dataclass(frozen=True, slots=True)
class IsaHeader:
    """A parsed ISA (elements 0..16, index 0 = 'ISA') and the delimiters it declares."""

    elements: tuple[str, ...]
    delimiters: Delimiters
    problems: tuple[IsaProblem, ...]
    readable: bool

    @property
    def sender(self) -> tuple[str, str]:
        """(ISA05, ISA06 stripped)."""
        return self.elements[5], self.elements[6].strip()

    @property
    def receiver(self) -> tuple[str, str]:
        """(ISA07, ISA08 stripped)."""
        return self.elements[7], self.elements[8].strip()


def valid_date(value: str) -> bool:
    """A real calendar date written YYMMDD (taken as 20YY) or CCYYMMDD, ASCII digits only."""
    if not ascii_digits(value) or len(value) not in (6, 8):
        return False
    if len(value) == 6:
        value = "20" + value
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return True


def ascii_digits(value: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts superscripts and other scripts' digits)."""
    return value.isascii() and value.isdigit()


def _printable(value: str) -> bool:
    """Printable ASCII (a delimiter inside an ISA value is reported by ``delimiter_problems``)."""
    return all(0x20 <= ord(c) < 0x7F for c in value)


def _special(c: str) -> bool:
    return len(c) == 1 and not c.isalnum() and c != " " and 0x20 < ord(c) < 0x7F


def describe_char(c: str) -> str:
    """A delimiter as a reader can see it: ``'*'`` or ``0x15``."""
    return repr(c) if " " < c < "\x7f" else f"0x{ord(c):02X}"


def delimiter_problems(es: str, cs: str, term: str, repetition: str | None,
                       elements: tuple[str, ...]) -> list[IsaProblem]:
    """What the standard forbids in an interchange's delimiters, each problem named.

    Any character may be a delimiter, control characters included (ASC X12 RFI #28: the character set
    of an interchange is extended by its delimiters), except an alphanumeric one, one equal to another
    delimiter, and one that occurs in the data (here: the ISA's own values).
    """
    out: list[IsaProblem] = []
    roles = [("element", es, "026", "ISA_ELEMENT_SEPARATOR", None),
             ("segment", term, "004", "ISA_SEGMENT_TERMINATOR", None),
             ("component", cs, "027", "ISA_COMPONENT_SEPARATOR", 16)]
    if repetition is not None:
        roles.append(("repetition", repetition, "016", "ISA_REPETITION_SEPARATOR", 11))
    seen: dict[str, str] = {}
    data = {i: v for i, v in enumerate(elements[1:16], 1) if i != 11 or repetition is None}
    for role, c, ta105, code, element in roles:
        name = _DELIMITER_NAMES[role]
        if len(c) != 1:
            out.append(IsaProblem(ta105, code, f"the {name} is missing", element))
        elif c.isalnum():
            out.append(IsaProblem(ta105, code, f"the {name} {c!r} is alphanumeric; a delimiter must not be a "
                                  "letter or a digit", element))
        elif c in seen:
            out.append(IsaProblem(ta105, code, f"the {name} {describe_char(c)} is the same character as the "
                                  f"{_DELIMITER_NAMES[seen[c]]}", element))
        else:
            inside = next((i for i, v in data.items() if c in v), None)
            if inside is not None:
                out.append(IsaProblem(ta105, code, f"the {name} {describe_char(c)} occurs in the data of "
                                      f"ISA{inside:02d} ({elements[inside]!r})", element))
        if len(c) == 1:
            seen.setdefault(c, role)
    return out


def parse_isa(text: str, supported_versions: frozenset[str]) -> IsaHeader:
    """Parse the ISA at the start of ``text`` (at least 106 characters when complete).

    Returns the header with every problem found; ``readable`` is False when the layout is too
    broken to address a TA1 (no sender can be read).
    """
    problems: list[IsaProblem] = []
    es = text[3] if len(text) > 3 else "*"
    fixed_ok = len(text) >= ISA_LENGTH and all(text[p] == es for p in SEPARATOR_OFFSETS)
    if fixed_ok:
        fields = tuple(text[p + 1:p + 1 + w] for p, w in zip(SEPARATOR_OFFSETS, ISA_WIDTHS, strict=True))
        term = text[ISA_LENGTH - 1]
        elements = ("ISA", *fields)
    else:
        parts = text[:400].split(es)
        mism = [p for p in SEPARATOR_OFFSETS if p < len(text) and text[p] != es]
        odd = {text[p] for p in mism}
        fields_list = [*parts[1:16], parts[16][:1] if len(parts) > 16 else ""]
        fields_list += [""] * (16 - len(fields_list))
        elements = ("ISA", *fields_list)
        term = parts[16][1:2] if len(parts) > 16 else ""
        if len(odd) == 1 and _special(next(iter(odd))) and len(text) >= ISA_LENGTH:
            problems.append(IsaProblem("026", "ISA_ELEMENT_SEPARATOR",
                                       f"element separator {es!r} is not used consistently: "
                                       f"{next(iter(odd))!r} at offset {mism[0]}"))
            fields = tuple(text[p + 1:p + 1 + w] for p, w in zip(SEPARATOR_OFFSETS, ISA_WIDTHS, strict=True))
            elements = ("ISA", *fields)
            term = text[ISA_LENGTH - 1]
        else:
            bad = [(i, v, w) for i, (v, w) in enumerate(zip(elements[1:16], ISA_WIDTHS[:15], strict=True), 1)
                   if len(v) != w]
            wrong = [f"ISA{i:02d} is {len(v)} characters (must be {w})" for i, v, w in bad]
            length = 3 + sum(len(v) for v in elements[1:17]) + 16 + (1 if term else 0)
            detail = "; ".join(wrong[:3]) or "the layout is broken"
            # one element of the wrong width that has its own TA105 code is reported by that code
            specific = {5: "005", 6: "006", 7: "007", 8: "008", 9: "014", 10: "015", 13: "018"}
            if len(bad) == 1 and bad[0][0] in specific and len(parts) > 16:
                i = bad[0][0]
                problems.append(IsaProblem(specific[i], "ISA_INVALID_VALUE" if i in (5, 6, 7, 8) else (
                    "ISA_DATE" if i == 9 else "ISA_TIME" if i == 10 else "ISA_CONTROL_NUMBER"),
                    f"ISA{i:02d} {elements[i]!r} is {len(elements[i])} characters (must be {bad[0][2]}); "
                    f"the ISA is {length} characters instead of {ISA_LENGTH}", i))
            else:
                problems.append(IsaProblem("022", "ISA_LENGTH",
                                           f"ISA must be {ISA_LENGTH} characters, found {length}: {detail}"))
    readable = bool(elements[6].strip()) and len(elements) > 6
    cs = elements[16][:1]
    version = elements[12]
    repetition: str | None = None
    if version >= "00402" and len(elements[11]) == 1 and elements[11] != "U":
        repetition = elements[11]
    delims = Delimiters(es, cs or ">", term or "~", repetition)
    if problems:
        return IsaHeader(elements, delims, tuple(problems), readable)

    problems.extend(delimiter_problems(es, cs, term, repetition, elements))
    checks: list[tuple[int, bool, str, str, str]] = [
        (1, elements[1] in AUTH_QUALIFIERS, "010", "ISA_INVALID_VALUE", "ISA01 authorization qualifier"),
        (3, elements[3] in SECURITY_QUALIFIERS, "012", "ISA_INVALID_VALUE", "ISA03 security qualifier"),
        (5, elements[5] in ID_QUALIFIERS, "005", "ISA_INVALID_VALUE", "ISA05 sender qualifier"),
        (6, bool(elements[6].strip()) and _printable(elements[6]), "006", "ISA_INVALID_VALUE",
         "ISA06 sender ID"),
        (7, elements[7] in ID_QUALIFIERS, "007", "ISA_INVALID_VALUE", "ISA07 receiver qualifier"),
        (8, bool(elements[8].strip()) and _printable(elements[8]), "008", "ISA_INVALID_VALUE",
         "ISA08 receiver ID"),
        (2, _printable(elements[2]), "011", "ISA_INVALID_VALUE", "ISA02 authorization information"),
        (4, _printable(elements[4]), "013", "ISA_INVALID_VALUE", "ISA04 security information"),
        (9, len(elements[9]) == 6 and valid_date(elements[9]), "014", "ISA_DATE", "ISA09 date"),
        (10, bool(re.fullmatch(r"(?:[01]\d|2[0-3])[0-5]\d", elements[10])), "015", "ISA_TIME", "ISA10 time"),
        (13, bool(re.fullmatch(r"\d{9}", elements[13])), "018", "ISA_CONTROL_NUMBER", "ISA13 control number"),
        (14, elements[14] in ("0", "1"), "019", "ISA_INVALID_VALUE", "ISA14 acknowledgment requested"),
        (15, elements[15] in ("P", "T"), "020", "ISA_INVALID_VALUE", "ISA15 usage indicator"),
    ]
    for idx, ok, ta105, code, label in checks:
        if not ok:
            problems.append(IsaProblem(ta105, code, f"{label} {elements[idx]!r} is invalid", idx))
    if not re.fullmatch(r"\d{5}", version):
        problems.append(IsaProblem("017", "ISA_INVALID_VALUE", f"ISA12 version {version!r} is not valid", 12))
    elif version not in supported_versions:
        problems.append(IsaProblem("003", "ISA_VERSION_UNSUPPORTED",
                                   f"ISA12 control version {version} is not supported "
                                   f"(accepted: {', '.join(sorted(supported_versions))})", 12))
    elif version < "00402" and elements[11] != "U":
        problems.append(IsaProblem("016", "ISA_INVALID_VALUE",
                                   f"ISA11 standards identifier {elements[11]!r} must be 'U'", 11))
    elif version >= "00402" and elements[11] != "U" and repetition is None:
        problems.append(IsaProblem("016", "ISA_REPETITION_SEPARATOR",
                                   f"ISA11 repetition separator {elements[11]!r} is not valid", 11))
    return IsaHeader(elements, delims, tuple(problems), readable)


def render_isa(elements: list[str] | tuple[str, ...], delims: Delimiters) -> str:
    """Render an ISA from its 16 values, padding each to its fixed width (no terminator)."""
    if len(elements) != 16:
        raise ValueError("ISA needs 16 elements")
    padded = [v.ljust(w)[:w] if i not in (8, 9, 12) else v.rjust(w, "0")[:w]
              for i, (v, w) in enumerate(zip(elements, ISA_WIDTHS, strict=True))]
    return "ISA" + delims.element + delims.element.join(padded)
