"""Pipedrive CRM connector: deals, products, Basic-auth webhooks (not yet built)."""
