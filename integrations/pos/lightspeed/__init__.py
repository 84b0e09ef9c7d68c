"""Lightspeed Retail (X-Series) POS connector: version-cursor sales feed (not yet built)."""
