"""Audit trail: who did what, when, with before/after; every admin change and
every support action writes one AuditLog row."""
