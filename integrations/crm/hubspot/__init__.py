"""HubSpot CRM connector (issue 5): client, OAuth, webhooks, mapping, sync, sandbox."""
