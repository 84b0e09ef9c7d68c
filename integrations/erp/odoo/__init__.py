"""Odoo ERP connector: posted customer invoices (not yet built).

For whoever builds it (vendor API audit, 2026-12-07): Odoo's documentation
schedules the XML-RPC and JSON-RPC endpoints (`/xmlrpc`, `/xmlrpc/2`,
`/jsonrpc`) for removal in Odoo 22 (fall 2028; Odoo Online may drop them
sooner, UNCONFIRMED). Build on the JSON-2 API (`POST
/json/2/account.move/search_read`, `Authorization: bearer <API key>`,
`X-Odoo-Database`) instead of JSON-RPC; its API keys last at most three
months, so the connection needs a key-rotation flow."""
