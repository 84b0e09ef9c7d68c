"""CRM domain app: Deal and Customer rows shared by every CRM vendor, and the CRM
selectors (pipeline, conversion). One sub-package per vendor."""
