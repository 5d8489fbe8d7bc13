"""firegap: fire-fighting infrastructure gaps of a Vietnamese province from OpenStreetMap."""

from __future__ import annotations

__version__ = "0.1.0"
