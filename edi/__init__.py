"""vendoredi: X12 EDI middleware for Amazon Vendor Central (1P) vendors.

The public surface is small on purpose; see ``__all__``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
