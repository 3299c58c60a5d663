"""Declarative mappings: YAML rules over a document's JSON view, compiled once, producing models.

- ``load_mapping(path)`` -> ``CompiledMapping``; ``CompiledMapping.apply(view)`` -> ``MappingResult``
- ``lint_mapping(path)`` -> findings; ``edi.mapping.testing`` runs golden tests.
"""

from __future__ import annotations

from edi.mapping.engine import CompiledMapping, MappingException, MappingResult, RuleFailure, compile_expression
from edi.mapping.loader import MappingSpecError, lint_mapping, load_mapping

__all__ = [
    "CompiledMapping",
    "MappingException",
    "MappingResult",
    "MappingSpecError",
    "RuleFailure",
    "compile_expression",
    "lint_mapping",
    "load_mapping",
]
