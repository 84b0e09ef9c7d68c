"""Odoo ERP connector: posted customer invoices over JSON-RPC (not yet built)."""
