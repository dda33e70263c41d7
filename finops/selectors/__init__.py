"""Reads of the core domain: health.py, inputs.py (what one org-day's costing needs), rollups.py (what
pages and the API show)."""
