"""API plumbing shared by every app's `apis.py`: the one error shape, pagination."""
