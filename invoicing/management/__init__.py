"""Management commands of the invoicing app."""
