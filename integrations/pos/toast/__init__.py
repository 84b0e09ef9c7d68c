"""Toast POS connector: partner login, ordersBulk, signed webhooks (not yet built)."""
