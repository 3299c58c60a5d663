"""A validated transaction set as a JSON-ready tree, named from its guide.

Shape (what mappings read):

- keys are segment IDs (``"BEG"``) and loops (``"PO1_loop"``); the HEADER/DETAIL/FOOTER tables
  are flattened into the set;
- a segment that may repeat (max use > 1) and every loop are always lists, a segment that may
  not is an object, so paths never depend on how many occurrences one file carries;
- a segment is an object of its present elements keyed by element ID (``"BEG03"``); a composite
  is an object keyed by component ID (``"C00101"``).
"""

from __future__ import annotations

from typing import Any

from edi.x12.compiler import CompiledGuide, Node
from edi.x12.guide import CompositeDef, SegmentDef
from edi.x12.validator import Document

JSON = dict[str, Any]


def segment_values(seg: SegmentDef, raw: str, element_sep: str, component_sep: str) -> JSON:
    """The present elements of one segment keyed by their IDs."""
    values = raw.split(element_sep)[1:]
    out: JSON = {}
    for item, value in zip(seg.elements, values, strict=False):
        if not value:
            continue
        if isinstance(item, CompositeDef):
            comps = value.split(component_sep)
            out[item.xid] = {c.xid.replace("-", ""): v for c, v in zip(item.components, comps, strict=False) if v}
        else:
            out[item.xid] = value
    return out


def placed(doc: Document) -> list[int]:
    """Guide positions of the document's segments (computed when the fast path skipped them)."""
    if not doc.nodes:
        doc.nodes = doc.guide.place(doc.segments)
    return doc.nodes


def _loop_key(node: Node) -> str:
    assert node.loop is not None
    return f"{node.loop.xid}_loop"


def document_tree(doc: Document) -> JSON:
    """Build the tree of an accepted document."""
    cg: CompiledGuide = doc.guide
    es, cs = doc.delimiters.element, doc.delimiters.component
    root: JSON = {}
    stack: list[tuple[Node, JSON]] = [(cg.root, root)]
    for raw, index in zip(doc.segments, placed(doc), strict=False):
        if index < 0:
            continue
        node = cg.nodes[index]
        seg = node.segment
        assert seg is not None
        loop = node.parent
        assert loop is not None
        if loop is not cg.root and node.position == 0:
            # a new iteration of ``loop``: close everything below its parent
            while stack[-1][0] is not loop.parent:
                stack.pop()
            instance: JSON = {}
            stack[-1][1].setdefault(_loop_key(loop), []).append(instance)
            stack.append((loop, instance))
        else:
            while stack[-1][0] is not loop and len(stack) > 1:
                stack.pop()
        container = stack[-1][1]
        value = segment_values(seg, raw, es, cs)
        if seg.max_use > 1:
            container.setdefault(seg.xid, []).append(value)
        else:
            container[seg.xid] = value
    return root


def named_segments(doc: Document) -> list[JSON]:
    """Each segment with its position, loop path and elements named from the guide (for ``edi parse``)."""
    cg = doc.guide
    es, cs = doc.delimiters.element, doc.delimiters.component
    out: list[JSON] = []
    for i, (raw, index) in enumerate(zip(doc.segments, placed(doc), strict=False), 1):
        if index < 0:
            continue
        seg = cg.nodes[index].segment
        assert seg is not None
        loops = "/".join(n.loop.xid for n in cg.loop_path(index) if n.loop is not None)
        elements = []
        values = raw.split(es)[1:]
        for item, value in zip(seg.elements, values, strict=False):
            if not value:
                continue
            if isinstance(item, CompositeDef):
                comps = value.split(cs)
                for c, v in zip(item.components, comps, strict=False):
                    if v:
                        elements.append({"id": c.xid, "name": c.name, "value": v})
            else:
                elements.append({"id": item.xid, "name": item.name, "value": value})
        out.append({"position": i, "segment": seg.xid, "name": seg.name, "loop": loops, "elements": elements})
    return out
