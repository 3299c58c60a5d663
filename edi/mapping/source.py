"""The JSON view a mapping reads: an accepted X12 document's canonical tree plus its envelope."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edi.x12 import X12Validator
from edi.x12.guide import default_registry
from edi.x12.results import FileReport
from edi.x12.tree import document_tree
from edi.x12.validator import Document, DocumentCollector


def document_view(doc: Document) -> dict[str, Any]:
    """The canonical tree of ``doc`` with an ``_envelope`` object (control numbers, set, version)."""
    view = document_tree(doc)
    view["_envelope"] = {"isa13": doc.isa13, "gs06": doc.gs06, "st02": doc.control_number, "st01": doc.set_id,
                         "version": doc.version}
    return view


def read_documents(path: str | Path, partner: str | None = "amazon") -> tuple[FileReport, list[Document]]:
    """Validate a whole file first, then return its accepted documents (nothing is mapped from a bad file)."""
    collector = DocumentCollector()
    report = X12Validator(default_registry(partner), keep_documents=True).validate_path(path, collector)
    return report, collector.documents
