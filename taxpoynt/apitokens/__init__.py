"""Per-user API tokens: created and revoked in the dashboard, hashed at rest,
shown once; the DRF authentication class that accepts them."""
