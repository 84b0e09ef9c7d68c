"""Local Square sandbox: a WSGI app (`app.create_app(**options)`) faithful to
Square's OAuth, Locations, Orders, Payments and Refunds APIs and its webhooks,
for the tests, the benches and the demo. Served by `taxpoynt.sandboxing`.

Public API (Bearer token; `Square-Version: YYYY-MM-DD`, a released version
no older than the endpoint (`constants.SQUARE_API_VERSIONS`,
`ENDPOINT_FIRST_VERSIONS`), else 400 INVALID_SQUARE_VERSION_FORMAT /
API_VERSION_INCOMPATIBLE; every response names the version in its
Square-Version header; errors as {"errors":[{"category","code","detail","field"}]}):
  GET  /oauth2/authorize?client_id&scope&session=false&state[&redirect_uri][&code_challenge&code_challenge_method=S256]
       → consent page; its "Allow" button POSTs back and redirects to the app's
       redirect URL with ?code&response_type=code&state ("Deny" → ?error=access_denied).
       A redirect_uri must equal the registered one; an app registered without
       one (the default app unless `redirect_uri=` is given) takes the request's.
  POST /oauth2/token          JSON; grants authorization_code (client_secret or
       code_verifier; redirect_uri again if the authorize URL had one) and
       refresh_token (code flow: same refresh token back; PKCE: rotated, the
       old one rejected; `scopes` narrows the new access token to the
       intersection). `short_lived`: a 24 h access token, no refresh token.
       Codes are single use, 5 min. Before Square-Version 2019-03-13 no
       refresh_token grant and no refresh token (`OBTAIN_TOKEN_GRANT_FIRST_VERSIONS`).
  POST /oauth2/revoke         header `Authorization: Client <APP_SECRET>`,
       {client_id, access_token | merchant_id[, revoke_only_access_token]}
  POST /oauth2/token/status   Bearer → {scopes, expires_at, client_id, merchant_id}
  GET  /v2/locations, /v2/locations/{id} ("main": the seller's first location)
  GET  /v2/orders/{id}; POST /v2/orders/batch-retrieve; POST /v2/orders/search
       (location_ids 1..10, filter/sort, limit ≤ 1000 default 500, cursor bound
       to the query that issued it, sort field = date filter field)
  GET  /v2/payments (begin_time, end_time [created_at], updated_at_begin_time, updated_at_end_time,
       offline_begin_time, offline_end_time [offline_payment_details.client_created_at; offline
       payments only], is_offline_payment, sort_field CREATED_AT|UPDATED_AT|OFFLINE_CREATED_AT,
       sort_order ASC|DESC, location_id [default: the main location only], total, last_4, card_brand,
       cursor, limit: over 100 gives 100), /v2/payments/{id};
       POST /v2/refunds; GET /v2/refunds (the same but every location by default, and status,
       source_type), /v2/refunds/{id}

Control API (JSON; the same methods exist on `app.sandbox`, a `state.Sandbox`):
  POST /_sandbox/reset                      everything cleared, default app/merchant/locations re-seeded
  GET  /_sandbox/state                      merchants, locations, apps, counts, subscriptions
  POST /_sandbox/apps                       {client_id, client_secret, redirect_uri}   register_app()
  POST /_sandbox/merchants                  {business_name, locations: n}             add_merchant()
  POST /_sandbox/locations                  {merchant_id?, count | names}             seed_locations()
  POST /_sandbox/tokens                     {merchant_id?, client_id?, scopes?, pkce?} issue_token()
  PUT  /_sandbox/webhook-subscription       {notification_url, event_types?, signature_key?} set_subscription()
  PUT  /_sandbox/delivery                   {duplicate_rate?, time_scale?, retry_delays?, timeout?}
  GET  /_sandbox/deliveries[?event_id=]     the delivery log (every attempt)               deliveries()
  POST /_sandbox/events/{event_id}/redeliver  same event, same event_id, again             redeliver()
  POST /_sandbox/sales                      {order (CreateOrder shape) | random: true, location_id?, tip?,
                                             tender_type?, customer_id?, complete?, duplicates?,
                                             offline_at? (taken offline then)}             create_sale()
  POST /_sandbox/sales/history              {count, start_at?, end_at? (default: the last day), location_ids?}
                                            completed random sales in the past, no webhooks  seed_history()
  POST /_sandbox/orders/{id}/fulfillment    {new_state}                                 update_fulfillment()
  POST /_sandbox/exchanges                  {order_id (the sale), returns: [{source_line_item_uid, quantity}],
                                             order (CreateOrder shape: the new items), tender_type?, reason?}
                                            → {order, payment | null, refund | null}     create_exchange()
  POST /_sandbox/refunds                    {payment_id, amount? | line_items?, reason?, complete? (default
                                             true; false: it stays PENDING)}           refund_payment()
  POST /_sandbox/refunds/{id}/complete      a PENDING refund COMPLETED now             complete_refund()
  POST /_sandbox/returns                    {returns: [{order_id (a sale), line_items: [{source_line_item_uid,
                                             quantity}]}], reason?, complete?}: items of one or more sales
                                            taken back at the till in one return order (one OrderReturn per
                                            sale), each sale's payment refunded by a refund of its own
                                            → {order, refunds}                          create_return()
  PUT  /_sandbox/faults                     {faults: [{path, method?, status?, count?, latency_ms?}]}
  PUT  /_sandbox/rate-limit                 {requests, per_seconds} (null requests: off) → 429 RATE_LIMITED
  POST /_sandbox/load/start                 {rate (sales/s), seconds, location_ids?}   start_load()
  POST /_sandbox/load/stop; GET /_sandbox/load

A completed sale emits order.created (OPEN), payment.created (APPROVED),
payment.updated (COMPLETED) and order.updated (COMPLETED); a refund emits
refund.created, refund.updated, payment.updated, order.created (the return
order, which lists the refund in its `refunds`) and order.updated (the sale);
a return of several sales emits each of its refunds' events, its return
order's order.created with the first and an order.updated with each later one.
An exchange emits order.created, payment.created and payment.updated when
the buyer pays the difference, order.updated (COMPLETED), and refund.created,
refund.updated and payment.updated when the difference is given back. Deliveries are signed with
x-square-hmacsha256-signature (and legacy x-square-signature) over
notification URL + raw body and retried on Square's back-off schedule
(`constants.WEBHOOK_RETRY_DELAYS_SECONDS` × `time_scale`) within 72 h.
Order money fields are computed by `pricing.price_order`.
"""
