"""Writes of the core domain: demo.py (the demo organisation), rollups.py (costing, allocation, rollups),
settings.py (economics settings, rules, releases, learning questions)."""
