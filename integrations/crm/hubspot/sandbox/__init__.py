"""Local HubSpot sandbox (issue 5): one HubSpot portal, served over HTTP with
HubSpot's own paths, field names and JSON shapes, so the TaxPoynt connector and
HubSpot's official client (`hubspot-api-client`, with `host=` set to the
sandbox URL) work unchanged; only the base URL differs. OAuth is the 2026-03 API
only (the v1 endpoints are sunset on 2027-02-16), so an SDK's v1 OAuth calls get 404.

Serve it:  ``taxpoynt.sandboxing.start("hubspot", port=0, **options)`` (tests),
``python manage.py sandboxes`` (demo). ``create_app(**options)`` in ``app.py``
returns the WSGI app; ``app.set_base_url(url)``; ``app.sandbox`` is the
in-process control object (class ``control.Sandbox``).

Modules: ``facts`` (HubSpot facts as data, UNCONFIRMED ones marked), ``store``
(thread-safe in-memory state), ``oauth``, ``crm`` (objects, pipelines, v4
associations), ``search``, ``ratelimit``, ``webhooks`` (signed sender with
retries), ``control`` (control object + /_sandbox/ routes), ``app``.

HubSpot API served (Bearer token from the OAuth flow or ``issue_token``)
-----------------------------------------------------------------------
GET  /oauth/authorize?client_id&redirect_uri&scope&optional_scope&state[&code_challenge&code_challenge_method]
     → HTML consent page; its "Grant access" button POSTs back and 302s to
       redirect_uri?code=…&state=…  (unknown client / redirect mismatch → 400 page)
POST /oauth/2026-03/token (form) client_id, client_secret, grant_type=authorization_code (redirect_uri, code
     [, code_verifier]) or refresh_token (refresh_token) → {"token_type":"bearer","refresh_token","access_token",
     "expires_in","hub_id","scopes","user_id","token_use":"access_token"}. Codes: single use, 5 min. Refresh
     tokens never expire and are not rotated.
POST /oauth/2026-03/token/introspect (form) client_id, client_secret, token[, token_type_hint]
     → {"active":true,"token_use":"access_token"|"refresh_token","token","hub_id","user_id","client_id","app_id",
     "scopes","token_type","user","hub_domain"} (+ "expires_in","is_private_distribution","signed_access_token"
     for an access token); unknown, expired, revoked or another app's token → 200 {"active":false}.
POST /oauth/2026-03/token/revoke (form) client_id, client_secret, token[, token_type_hint] → 200, no body;
     refreshing then fails with invalid_grant; an unknown or already revoked token → 200 as well; an access
     token → 400 unsupported_token_type. Issued access tokens stay valid.
     The same three under /oauth/v3/…; the sunset v1 endpoints (/oauth/v1/…) answer 404.
     OAuth errors: 400 {"error","error_description","status","message"}, e.g. {"error":"invalid_grant",
     "status":"BAD_REFRESH_TOKEN",…}; error invalid_client (BAD_CLIENT_ID|BAD_CLIENT_SECRET), invalid_grant
     (BAD_AUTH_CODE|BAD_REDIRECT_URI|BAD_REFRESH_TOKEN), unsupported_grant_type, invalid_request. Pairings and
     the answers marked above beyond HubSpot's docs: UNCONFIRMED (facts.OAUTH_ERRORS).
GET  /crm/v3/objects/{deals|line_items|companies|contacts}?limit(≤100)&after&properties&associations&archived
GET  /crm/v3/objects/{type}/{id}?properties&associations      PATCH same path {"properties":{…}}
POST /crm/v3/objects/{type}  create;  POST /crm/v3/objects/{type}/batch/read {"inputs":[{"id"}],"properties"}
POST /crm/v3/objects/{type}/search {filterGroups, sorts, properties, limit(≤200), after, query}
     → {"total","results","paging":{"next":{"after"}}}; >5 groups / >25 filters / >10 per group,
       or after ≥ 10000 → 400 VALIDATION_ERROR.
GET  /crm/v3/pipelines/deals[/{id}]  default pipeline, stages appointmentscheduled … closedwon/closedlost
POST /crm/v4/associations/deals/{line_items|companies|contacts}/batch/read {"inputs":[{"id"}]}
     → {"status":"COMPLETE","results":[{"from":{"id"},"to":[{"toObjectId":<int>,"associationTypes":[…]}]}]};
       inputs without associations → HTTP 207 with "errors" (NO_ASSOCIATIONS_FOUND), as HubSpot does.
GET  /crm/v4/objects/{from}/{id}/associations/{to}
The same CRM calls, same shapes, at each HubSpot date version v (facts.CRM_API_VERSIONS: 2026-03, 2026-09):
     /crm/objects/{v}/{type}[/{id}|/search|/batch/read], /crm/pipelines/{v}/deals[/{id}],
     POST /crm/associations/{v}/{from}/{to}/batch/read, GET /crm/objects/{v}/{from}/{id}/associations/{to}.
     Association reads page each input's links (500, set_association_page_size): its result carries
     "paging":{"next":{"after","link"}} while there are more; send {"id","after"} for the next page.
     The connector calls only the date-versioned paths; the legacy ones stay for hubspot-api-client 12.0.0.
Errors: 401 {"status":"error","message","correlationId","category":"INVALID_AUTHENTICATION"|"EXPIRED_AUTHENTICATION"};
403 MISSING_SCOPES (scopes crm.objects.<type>.read/.write); 404 OBJECT_NOT_FOUND;
400 VALIDATION_ERROR (PATCH of an unknown property → "Property values were not valid: …": define custom
properties first with ``define_property``; read-only: createdate, hs_lastmodifieddate, hs_object_id, line-item amount).
429 {"status":"error","message":"You have reached your ten_secondly_rolling limit.","errorType":"RATE_LIMIT",
"correlationId","policyName":"TEN_SECONDLY_ROLLING","requestId"} (search: "SECONDLY"). Normal API responses carry
X-HubSpot-RateLimit-Interval-Milliseconds/-Max/-Remaining/-Secondly/-Secondly-Remaining; Daily/-Daily-Remaining
only for private-app tokens (HubSpot sends no daily headers on OAuth calls); search responses carry none.

create_app options (all keyword; defaults in brackets)
------------------------------------------------------
portal_id [62515], app_id [54321], client_id / client_secret [settings.VENDORS["hubspot"] when Django is
configured ("demo-hubspot-client-id" / "demo-hubspot-client-secret" by default), else
"taxpoynt-sandbox-client-id" / "taxpoynt-sandbox-client-secret"], redirect_uris [() = any redirect URI accepted], webhook_url [None = no
webhooks], subscriptions [deal.creation, deal.deletion, deal.associationChange, deal.propertyChange for
dealstage and amount; each {"eventType", "propertyName"?}], access_token_ttl [1800 s], ten_secondly_limit [100],
search_per_second [4], daily_limit [250000], time_factor [1.0: webhook retry delays 60 s × 2^n; 0.001 in tests],
webhook_timeout [5 s], webhook_max_retries [10], enforce_scopes [True], hub_domain, user, base_url.

Control: ``app.sandbox.<method>(…)`` in-process, or HTTP JSON body = keyword arguments
-------------------------------------------------------------------------------------------
reset()                                     POST /_sandbox/reset    (data, tokens, faults, log; app as created)
state()                                     GET  /_sandbox/state
configure_app(client_id, client_secret, redirect_uris, webhook_url, subscriptions, app_id)
                                            POST /_sandbox/app      → app settings incl. authorize_url, token_url
set_limits(ten_secondly, search_per_second, daily, access_token_ttl)   POST /_sandbox/limits
reset_rate_limits()                         POST /_sandbox/limits/reset
fail_next(count=1, status=429, path_prefix="/crm/", oauth_error=None)   POST /_sandbox/faults   (429 → HubSpot 429
     body; 5xx; count null: until clear_faults; OAuth paths too, e.g. path_prefix "/oauth/2026-03/token/revoke";
     oauth_error "BAD_REFRESH_TOKEN" etc. → that 400 OAuth error body)
clear_faults()                              DELETE /_sandbox/faults  (the sandbox recovers)
authorize(redirect_uri, scope, state, optional_scope, code_challenge, code_challenge_method, client_id)
                                            POST /_sandbox/authorize → {"code","redirect_url"} (consent without HTML)
issue_token(scopes=None, private=False)     POST /_sandbox/tokens    → token response (all CRM scopes by default)
expire_access_tokens()                      POST /_sandbox/tokens/expire
advance_clock(seconds)                      POST /_sandbox/clock
define_property(object_type, name, type="string")   POST /_sandbox/properties
create_object(object_type, properties, created_at, modified_at, notify=True)   POST /_sandbox/objects/{type}
create_company(properties) / create_contact(properties)   (in-process)
create_deal(properties, line_items=[{…}], company_id, contact_ids, created_at, modified_at, notify=True)
                                            → deal incl. "associations" and "line_item_ids"
seed(companies=[{…}], contacts=[{…}], deals=[{"properties","line_items","company": index|id,
     "contacts": [index|id], "created_at","modified_at"}], notify=False)   POST /_sandbox/seed → ids
generate_deals(count, stage="closedwon", modified_start, modified_step_ms=1000 (0 = all share one
     hs_lastmodifieddate), line_items_per_deal=1, with_company=True, currency="NGN", unit_price="10000.00")
                                            POST /_sandbox/deals/generate → {"ids", "company_id", …}
move_deal_stage(deal_id, stage)             POST /_sandbox/deals/{id}/stage {"stage"}  (bumps
     hs_lastmodifieddate, fires deal.propertyChange dealstage)
update_object(object_type, object_id, properties, source="CRM_UI")   PATCH /_sandbox/objects/{type}/{id}
delete_object(object_type, object_id)       DELETE /_sandbox/objects/{type}/{id}  (archives; deal.deletion)
get_object(object_type, object_id)          GET /_sandbox/objects/{type}/{id}
associate(from_type, from_id, to_type, to_id, primary=False, remove=False)   POST /_sandbox/associations
     (fires deal.associationChange {associationType "DEAL_TO_LINE_ITEM", fromObjectId, toObjectId,
     associationRemoved, isPrimaryAssociation})
set_association_page_size(size)            POST /_sandbox/associations/page-size  (links per association page)
deliveries()                                GET  /_sandbox/webhooks/deliveries → [{id, url, mode, state
     (pending|delivered|failed|gave_up), eventIds, events, attempts[{attemptNumber, status, error, timestamp}]}]
wait_for_webhooks(timeout=10)               POST /_sandbox/webhooks/wait   (True when the queue is idle)
redeliver(event_id)                         POST /_sandbox/webhooks/redeliver  (same eventId again)
send_tampered(event_id, mode="tampered_body"|"bad_signature"|"old_timestamp"|"wrong_secret")
                                            POST /_sandbox/webhooks/tampered   (one attempt, not retried)

Example (pytest):
    running = sandboxing.start("hubspot", port=0, time_factor=0.001)
    sb = running.app.sandbox
    sb.configure_app(webhook_url=f"{live_server.url}/webhooks/crm/hubspot", redirect_uris=[callback_url])
    deal = sb.create_deal({"dealname": "Acme", "amount": "12500.00", "deal_currency_code": "NGN"},
                          line_items=[{"name": "Cement", "quantity": "5", "price": "2500.00"}],
                          company_id=sb.create_company({"name": "Acme Ltd", "tin": "01234567-0001"})["id"])
    tokens = sb.issue_token()            # or the real consent flow at running.url + "/oauth/authorize"
    sb.move_deal_stage(deal["id"], "closedwon"); sb.wait_for_webhooks(5); sb.deliveries()
Over HTTP: POST {url}/_sandbox/deals/{id}/stage {"stage": "closedwon"}, GET {url}/_sandbox/webhooks/deliveries.
Body keys use the Python names; "object_type" is accepted for define_property.

Webhook requests: POST to webhook_url, body a JSON array of events {eventId, subscriptionId, portalId,
appId, occurredAt (ms), subscriptionType, attemptNumber, objectId, propertyName?, propertyValue?,
changeFlag?, changeSource ("CRM_UI" from control, "INTEGRATION" from API PATCH), sourceId?}; headers
X-HubSpot-Signature-v3 (base64 HMAC-SHA256 of client secret over "POST" + URL + body + timestamp),
X-HubSpot-Request-Timestamp (ms), X-HubSpot-Signature (v1 sha256 hex of secret + body),
X-HubSpot-Signature-Version "v1". Retried (same eventIds, attemptNumber+1) on connection errors,
timeouts and statuses other than 2xx/400/401/403/404/405, up to 10 times; 429 honours Retry-After
(scaled by time_factor).
"""
