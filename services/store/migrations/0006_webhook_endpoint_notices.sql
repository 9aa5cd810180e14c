-- A notice in a business's inbox that the relay disabled one of its webhook endpoints (kind 5).
-- It belongs to no conversation: it names the endpoint instead, with the endpoint's state at
-- that moment (endpoint_state: {"reason", "last_error", "url"}; the business's own settings and
-- the relay's error text, nothing from a chat). Like the other events without a message, the
-- sweeper removes it by age (events_without_message_by_age).
ALTER TABLE hosting.events ALTER COLUMN conversation_id DROP NOT NULL;
ALTER TABLE hosting.events ADD COLUMN endpoint_id uuid;
ALTER TABLE hosting.events ADD COLUMN endpoint_state jsonb;
ALTER TABLE hosting.events DROP CONSTRAINT events_kind_check;
ALTER TABLE hosting.events ADD CONSTRAINT events_kind_check CHECK (kind BETWEEN 1 AND 5);
ALTER TABLE hosting.events ADD CONSTRAINT events_name_a_conversation_or_an_endpoint
  CHECK (CASE WHEN kind = 5 THEN conversation_id IS NULL AND endpoint_id IS NOT NULL
              ELSE conversation_id IS NOT NULL AND endpoint_id IS NULL END);
