"""Configuration: the YAML loader (strings only, marked nodes) and its findings."""

from __future__ import annotations

from edi.config.loader import (
    ConfigFinding,
    Mark,
    MDict,
    MList,
    MStr,
    YamlError,
    load_yaml,
    load_yaml_text,
    mark_of,
    validation_findings,
)

__all__ = [
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
