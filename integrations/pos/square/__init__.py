"""Square POS connector (issue 6): OAuth + PKCE, signed webhooks, orders sync, sandbox."""
