"""The merchant dashboard: server-rendered pages over the same selectors and
services the API uses (issue 8 grows it; this holds the overview and org switcher)."""
