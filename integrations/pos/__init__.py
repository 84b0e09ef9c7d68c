"""POS domain app: Location and Transaction rows shared by every POS vendor, and
the POS selectors (volume, peak hours, top items). One sub-package per vendor."""
