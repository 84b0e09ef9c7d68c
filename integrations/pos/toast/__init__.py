"""Toast POS connector: partner login, ordersBulk, signed webhooks (not yet built).

For whoever builds it (vendor API audit, 2026-12-07): the login and
`/orders/v2/ordersBulk` are current; Toast's deprecated `GET /orders` (a list
of GUIDs) is not needed. Toast added card types, a service-charge category,
a `selectionType` value and `unitOfMeasure` values in 2026: the mapper must
accept enum values it does not know."""
