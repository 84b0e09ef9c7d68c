"""The invoicing platform, knowing no vendor: canonical invoice, tax and rounding,
numbering, UBL + FIRS JSON, IRN, stamp, QR, the per-document submission state
machine and its worker, renditions. Vendors hand it a canonical invoice; it
never imports a vendor package."""
