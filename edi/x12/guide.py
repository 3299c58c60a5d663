"""Implementation guides: pyx12-format XML maps loaded into immutable definitions.

Guides are data. Each transaction set version is one ``<set>.<vvvv>.xml`` file in pyx12's map
vocabulary (``transaction`` / ``loop`` / ``segment`` / ``element`` / ``composite``), plus
``dataele.<version>*.xml`` files with data element types and lengths. XML is parsed with
entity resolution, DTD loading and network access switched off.

A partner layer (``partners/<partner>/<set>.<vvvv>.xml``) narrows a base guide: it can change a
segment's or element's usage and restrict an element's code list, addressed by segment path.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from edi.errors import GuideError

if TYPE_CHECKING:
    from lxml import etree

MAPS_DIR = Path(__file__).parent / "maps"
UNBOUNDED = 10**9


@dataclass(frozen=True, slots=True)
class DataElement:
    """A data element dictionary entry (type and length)."""

    number: str
    data_type: str
    min_len: int
    max_len: int
    name: str


@dataclass(frozen=True, slots=True)
class ElementDef:
    """A simple element at a position in a segment (or a component in a composite)."""

    xid: str
    seq: int
    name: str
    usage: str
    element: DataElement
    codes: frozenset[str] | None = None

    @property
    def required(self) -> bool:
        """Usage R."""
        return self.usage == "R"


@dataclass(frozen=True, slots=True)
class CompositeDef:
    """A composite element: components separated by the component separator."""

    xid: str
    seq: int
    name: str
    usage: str
    number: str
    components: tuple[ElementDef, ...]

    @property
    def required(self) -> bool:
        """Usage R."""
        return self.usage == "R"


@dataclass(frozen=True, slots=True)
class SegmentDef:
    """A segment at one position of a transaction set."""

    xid: str
    name: str
    usage: str
    pos: int
    max_use: int
    syntax: tuple[str, ...]
    elements: tuple[ElementDef | CompositeDef, ...]
    path: str = ""

    @property
    def required(self) -> bool:
        """Usage R."""
        return self.usage == "R"


@dataclass(frozen=True, slots=True)
class LoopDef:
    """A loop (explicit: triggered by its first segment) or a wrapper (a table heading)."""

    xid: str
    name: str
    usage: str
    pos: int
    repeat: int
    wrapper: bool
    children: tuple[LoopDef | SegmentDef, ...]
    path: str = ""

    @property
    def required(self) -> bool:
        """Usage R."""
        return self.usage == "R"

    @property
    def trigger(self) -> SegmentDef:
        """The segment that starts an iteration of this loop."""
        first = self.children[0]
        if not isinstance(first, SegmentDef):
            raise GuideError(f"loop {self.path} must start with a segment")
        return first


@dataclass(frozen=True, slots=True)
class Guide:
    """One transaction set in one version: its tree and its data element dictionary."""

    set_id: str
    version: str
    name: str
    root: LoopDef
    source: str
    partner: str | None = None

    def segments(self) -> Iterable[SegmentDef]:
        """Every segment definition, depth first."""
        stack: list[LoopDef | SegmentDef] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, SegmentDef):
                yield node
            else:
                stack.extend(reversed(node.children))


_PARSER_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
}


def _parse_xml(path: Path) -> etree._Element:
    from lxml import etree  # noqa: PLC0415 - only when a guide is not in the cache

    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        return etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise GuideError(f"{path}: cannot read guide: {exc}") from exc


def _text(node: etree._Element, tag: str, default: str | None = None) -> str:
    child = node.find(tag)
    if child is None or child.text is None:
        if default is None:
            raise GuideError(f"line {node.sourceline}: <{node.tag} xid={node.get('xid')!r}> lacks <{tag}>")
        return default
    return child.text.strip()


def _repeat(value: str) -> int:
    value = value.strip()
    if value in (">1", "&gt;1", "N", "n", ""):
        return UNBOUNDED
    try:
        return int(value)
    except ValueError as exc:
        raise GuideError(f"bad repeat/max_use value {value!r}") from exc


def load_data_elements(version: str, maps_dir: Path = MAPS_DIR) -> dict[str, DataElement]:
    """Load and merge every ``dataele.<version>*.xml``; conflicting definitions are an error (read once)."""
    return dict(_data_elements(version, maps_dir))


@cache
def _data_elements(version: str, maps_dir: Path) -> dict[str, DataElement]:
    out: dict[str, DataElement] = {}
    files = sorted(maps_dir.glob(f"dataele.{version}*.xml"))
    if not files:
        raise GuideError(f"no data element dictionary for version {version} in {maps_dir}")
    for path in files:
        for node in _parse_xml(path).iter("data_ele"):
            num = node.get("ele_num", "").strip()
            try:
                de = DataElement(num, node.get("data_type", "AN").strip(), int(node.get("min_len", "1")),
                                 int(node.get("max_len", "1")), node.get("name", "").strip())
            except ValueError as exc:
                raise GuideError(f"{path}:{node.sourceline}: bad data element {num}") from exc
            known = out.get(num)
            if known is not None and (known.data_type, known.min_len, known.max_len) != (
                    de.data_type, de.min_len, de.max_len):
                raise GuideError(f"{path}:{node.sourceline}: data element {num} conflicts with an earlier "
                                 f"definition ({known.data_type} {known.min_len}/{known.max_len})")
            out[num] = de
    return out


def _element(node: etree._Element, elements: dict[str, DataElement], where: str) -> ElementDef:
    num = _text(node, "data_ele")
    de = elements.get(num)
    if de is None:
        raise GuideError(f"{where}:{node.sourceline}: data element {num} is not in the dictionary")
    codes_node = node.find("valid_codes")
    codes = None
    if codes_node is not None:
        values = [c.text.strip() for c in codes_node.findall("code") if c.text and c.text.strip()]
        codes = frozenset(values) if values else None
    return ElementDef(node.get("xid", ""), int(_text(node, "seq")), _text(node, "name", ""),
                      _text(node, "usage", "S"), de, codes)


def _segment(node: etree._Element, elements: dict[str, DataElement], where: str, path: str) -> SegmentDef:
    xid = node.get("xid", "")
    items: list[ElementDef | CompositeDef] = []
    for child in node:
        if child.tag == "element":
            items.append(_element(child, elements, where))
        elif child.tag == "composite":
            comps = tuple(_element(c, elements, where) for c in child.findall("element"))
            items.append(CompositeDef(child.get("xid", f"{xid}{_text(child, 'seq')}"), int(_text(child, "seq")),
                                      _text(child, "name", ""), _text(child, "usage", "S"),
                                      _text(child, "data_ele", ""), comps))
    for i, item in enumerate(items, 1):
        if item.seq != i:
            raise GuideError(f"{where}:{node.sourceline}: segment {xid} element {item.xid} has seq "
                             f"{item.seq}, expected {i}")
    syntax = tuple(s.text.strip() for s in node.findall("syntax") if s.text)
    return SegmentDef(xid, _text(node, "name", ""), _text(node, "usage", "S"), int(_text(node, "pos", "0")),
                      _repeat(_text(node, "max_use", "1")), syntax, tuple(items), f"{path}/{xid}")


def _loop(node: etree._Element, elements: dict[str, DataElement], where: str, path: str) -> LoopDef:
    xid = node.get("xid", "")
    here = f"{path}/{xid}" if path else xid
    children: list[LoopDef | SegmentDef] = []
    for child in node:
        if child.tag == "segment":
            children.append(_segment(child, elements, where, here))
        elif child.tag == "loop":
            children.append(_loop(child, elements, where, here))
    if not children:
        raise GuideError(f"{where}:{node.sourceline}: loop {xid} is empty")
    wrapper = node.get("type") == "wrapper"
    loop = LoopDef(xid, _text(node, "name", ""), _text(node, "usage", "S"), int(_text(node, "pos", "0")),
                   _repeat(_text(node, "repeat", "1")), wrapper, tuple(children), here)
    if not wrapper:
        _ = loop.trigger
    return loop


def load_guide(path: Path, maps_dir: Path = MAPS_DIR) -> Guide:
    """Load one transaction-set map file (``<set>.<vvvv>.xml``)."""
    root = _parse_xml(path)
    if root.tag != "transaction":
        raise GuideError(f"{path}: root element must be <transaction>")
    set_id = root.get("xid", "")
    version = "00" + path.name.split(".")[1] if len(path.name.split(".")[1]) == 4 else ""
    if not version:
        raise GuideError(f"{path}: file name must be <set>.<vvvv>.xml, e.g. 850.4010.xml")
    elements = _data_elements(version, maps_dir)
    st_loop = root.find("loop")
    if st_loop is None:
        raise GuideError(f"{path}: no ST_LOOP")
    # pyx12 maps wrap the set in ISA_LOOP/GS_LOOP: descend to ST_LOOP wherever it is
    if st_loop.get("xid") != "ST_LOOP":
        found = root.find(".//loop[@xid='ST_LOOP']")
        if found is None:
            raise GuideError(f"{path}: no ST_LOOP")
        st_loop = found
    loop = _loop(st_loop, elements, str(path), "")
    return Guide(set_id, version, _text(root, "name", ""), loop, str(path))


def apply_layer(guide: Guide, layer_path: Path) -> Guide:
    """Narrow ``guide`` with a partner layer file.

    The layer looks like::

        <layer partner="amazon" set="850" version="004010">
          <segment path="ST_LOOP/HEADER/BEG" usage="R" max_use="1">
            <element xid="BEG02" usage="R"><valid_codes><code>NE</code>...</valid_codes></element>
          </segment>
          <loop path="ST_LOOP/DETAIL/PO1" usage="R" repeat="100000"/>
        </layer>
    """
    root = _parse_xml(layer_path)
    seg_over: dict[str, etree._Element] = {n.get("path", ""): n for n in root.findall("segment")}
    loop_over: dict[str, etree._Element] = {n.get("path", ""): n for n in root.findall("loop")}
    used: set[str] = set()

    def narrow_element(el: ElementDef, node: etree._Element) -> ElementDef:
        codes_node = node.find("valid_codes")
        codes = el.codes
        if codes_node is not None:
            new = frozenset(c.text.strip() for c in codes_node.findall("code") if c.text)
            codes = new if el.codes is None else new & el.codes
        return replace(el, usage=node.get("usage", el.usage), codes=codes)

    def walk(node: LoopDef | SegmentDef) -> LoopDef | SegmentDef:
        if isinstance(node, SegmentDef):
            over = seg_over.get(node.path)
            if over is None:
                return node
            used.add(node.path)
            by_xid = {e.get("xid"): e for e in over.findall("element")}
            elems: list[ElementDef | CompositeDef] = []
            for item in node.elements:
                if isinstance(item, ElementDef) and item.xid in by_xid:
                    elems.append(narrow_element(item, by_xid.pop(item.xid)))
                else:
                    elems.append(item)
            if by_xid:
                raise GuideError(f"{layer_path}: unknown elements {sorted(by_xid)} in {node.path}")
            max_use = over.get("max_use")
            return replace(node, usage=over.get("usage", node.usage), elements=tuple(elems),
                           max_use=_repeat(max_use) if max_use else node.max_use)
        over = loop_over.get(node.path)
        children = tuple(walk(c) for c in node.children)
        if over is None:
            return replace(node, children=children)
        used.add(node.path)
        rep = over.get("repeat")
        return replace(node, usage=over.get("usage", node.usage), children=children,
                       repeat=_repeat(rep) if rep else node.repeat)

    new_root = walk(guide.root)
    unknown = (set(seg_over) | set(loop_over)) - used
    if unknown:
        raise GuideError(f"{layer_path}: paths not in the base guide: {sorted(unknown)}")
    assert isinstance(new_root, LoopDef)
    return replace(guide, root=new_root, partner=root.get("partner"), source=f"{guide.source}+{layer_path}")


@dataclass
class GuideRegistry:
    """The guides available to a validator, by (set id, version) and optional partner.

    Guides are found by file name (``<set>.<vvvv>.xml``) and parsed on first use: a process that
    validates 850s never reads the 810, 846 or 856 maps.
    """

    maps_dir: Path = MAPS_DIR
    partner: str | None = None
    _files: dict[tuple[str, str], Path] = field(default_factory=dict)
    _guides: dict[tuple[str, str], Guide] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in sorted(self.maps_dir.glob("*.xml")):
            parts = path.name.split(".")
            if len(parts) != 3 or not parts[0].isdigit() or len(parts[1]) != 4:
                continue
            self._files[(parts[0], "00" + parts[1])] = path

    def get(self, set_id: str, version: str) -> Guide | None:
        """The guide for a set in a version (GS08's first six characters), or None."""
        key = (set_id, version[:6])
        guide = self._guides.get(key)
        if guide is None:
            path = self._files.get(key)
            if path is None:
                return None
            layer = self.maps_dir / "partners" / self.partner / path.name if self.partner else None
            if layer is not None and not layer.exists():
                layer = None
            guide = _cached_guide(path, layer, self.maps_dir)
            if (guide.set_id, guide.version) != key:
                raise GuideError(f"{path}: declares {guide.set_id} {guide.version}, its name says {key[0]} {key[1]}")
            self._guides[key] = guide
        return guide

    def versions(self) -> set[str]:
        """Versions that have at least one guide."""
        return {v for _, v in self._files}

    def versions_of(self, set_ids: Iterable[str]) -> set[str]:
        """Versions that have a guide for at least one of ``set_ids``."""
        wanted = set(set_ids)
        return {v for s, v in self._files if s in wanted}

    def sets(self, version: str) -> set[str]:
        """Transaction sets with a guide in ``version``."""
        return {s for s, v in self._files if v == version[:6]}

    def __iter__(self) -> Iterator[Guide]:
        for set_id, version in list(self._files):
            guide = self.get(set_id, version)
            if guide is not None:
                yield guide


CACHE_ENV = "EDI_CACHE_DIR"
"""Environment variable naming the folder for compiled guides (default: the user's cache folder)."""
_CACHE_FORMAT = b"guide-cache-1"


def cache_dir() -> Path | None:
    """Where parsed guides are kept between processes (None: caching is off, ``EDI_CACHE_DIR=``)."""
    configured = os.environ.get(CACHE_ENV)
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vendoredi" / "guides"


def _cached_guide(path: Path, layer: Path | None, maps_dir: Path) -> Guide:
    """A guide (with its partner layer) from the cache, keyed by the hash of every file it is built from.

    A changed map, layer or data element dictionary is a new key, so a stale entry is never used;
    an unreadable or unwritable cache only costs the parse.
    """
    version = "00" + path.name.split(".")[1] if len(path.name.split(".")) == 3 else ""
    sources = [path, *sorted(maps_dir.glob(f"dataele.{version}*.xml")), *([layer] if layer else [])]
    digest = hashlib.sha256(_CACHE_FORMAT)
    for src in sources:
        digest.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    folder = cache_dir()
    entry = folder / f"{digest.hexdigest()}.pickle" if folder else None
    if entry is not None:
        try:
            with entry.open("rb") as fh:
                guide = pickle.load(fh)  # noqa: S301 - our own cache, keyed by content hash
            if isinstance(guide, Guide):
                return replace(guide, source=f"{path}+{layer}" if layer else str(path))
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
            pass
    guide = load_guide(path, maps_dir)
    if layer is not None:
        guide = apply_layer(guide, layer)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(guide, protocol=pickle.HIGHEST_PROTOCOL))
            tmp.replace(entry)
        except OSError:
            pass
    return guide


@cache
def default_registry(partner: str | None = None) -> GuideRegistry:
    """The shipped guides (optionally with a partner's layer), loaded once per process."""
    return GuideRegistry(partner=partner)
