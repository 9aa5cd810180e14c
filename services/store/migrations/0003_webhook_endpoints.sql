-- Webhook endpoints of businesses (BusinessService.CreateWebhookEndpoint). Nothing here is
-- message content: events are read from the business's event log (hosting.events) when they
-- are delivered, and the signing secrets are sealed under the business's data key (AES-256-GCM,
-- with business and endpoint ids as associated data), so offboarding shreds them with the rest.
--
-- event_kinds: bit mask, 1 user messages, 2 status changes, 4 chat notices.
-- generation: moves on every change a business makes; the delivering instance starts over
-- (handshake included when the URL changed) when it sees a new one.
-- delivered_position: every event of the business's log up to it was delivered (2xx) to this
-- endpoint or given up on (expired, shredded, not a wanted kind). While the endpoint is
-- enabled, events above it are kept (see functions/hosting/drop_delivered_events.sql).
-- lease_holder, lease_until: the one instance that drives the endpoint, until the lease runs
-- out; any instance takes an endpoint whose lease ran out.
CREATE TABLE hosting.webhook_endpoints (
  endpoint_id           uuid PRIMARY KEY,
  business_id           uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  url                   text NOT NULL,
  event_kinds           smallint NOT NULL CHECK (event_kinds BETWEEN 1 AND 7),
  enabled               boolean NOT NULL,
  disabled_reason       text NOT NULL DEFAULT '',
  secret                bytea NOT NULL,
  previous_secret       bytea,
  previous_secret_until timestamptz,
  generation            bigint NOT NULL DEFAULT 1,
  verified_at           timestamptz,
  delivered_position    bigint NOT NULL DEFAULT 0,
  last_success_at       timestamptz,
  last_error            text NOT NULL DEFAULT '',
  last_error_at         timestamptz,
  failing_since         timestamptz,
  lease_holder          uuid,
  lease_until           timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_by_business
  ON hosting.webhook_endpoints (business_id, created_at, endpoint_id);
