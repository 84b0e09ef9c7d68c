"""A local FIRS MBS sandbox: `app.create_app` (WSGI), `state.Sandbox` (its world
and control surface), `validation` (the invoice-body rules). See app.py."""
