"""`render_invoice`: one canonical invoice JSON file → UBL XML + FIRS JSON."""
