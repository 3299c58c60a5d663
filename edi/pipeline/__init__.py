"""The order pipeline: states, steps, the embedded IMS and pre-send checks."""

from __future__ import annotations

from edi.pipeline.records import POState
from edi.pipeline.runner import PartnerSettings, Pipeline

__all__ = ["POState", "PartnerSettings", "Pipeline"]
