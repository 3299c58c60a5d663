"""The order pipeline: states, steps (module functions over a context), the IMS adapters and pre-send checks."""

from __future__ import annotations

from edi.config.partner import PartnerSettings
from edi.pipeline.context import PartnerContext, Runtime
from edi.pipeline.records import POState
from edi.pipeline.runner import Pipeline

__all__ = ["POState", "PartnerContext", "PartnerSettings", "Pipeline", "Runtime"]
