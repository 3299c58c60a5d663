"""The order pipeline: states, steps, the embedded IMS and pre-send checks."""

from __future__ import annotations

from edi.config.partner import PartnerSettings
from edi.pipeline.records import POState
from edi.pipeline.runner import Pipeline

__all__ = ["POState", "PartnerSettings", "Pipeline"]
