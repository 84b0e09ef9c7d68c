"""The generic connector machinery, knowing no vendor: Connection (credentials,
sync cursor, trigger rule, field map), WebhookEvent (raw inbound events, stored
before they are acknowledged), the SourceRecord base every vendor object row
shares, and (as later issues add them) OAuth token service, webhook intake,
sync runner and provider registry."""
