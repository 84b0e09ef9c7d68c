"""Tenancy: Organization (the tenant) and Membership (user ↔ org with a role),
and the one scoping helper every selector, view and admin uses."""
