"""ERP domain app: SourceInvoice (a posted customer invoice in the merchant's ERP).
One sub-package per ERP (Odoo)."""
