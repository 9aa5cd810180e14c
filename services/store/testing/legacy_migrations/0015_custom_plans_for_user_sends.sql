-- The two group-commit functions of user sends are planned for each batch again (0013 kept
-- one plan per connection). A plan made once can pick the wrong one of two indexes that both
-- fit a probe: made while hosting.messages looked empty (right after a sweep and VACUUM), it
-- looked for earlier sends of an idempotency key through (conversation_id, seq), reading every
-- message of the conversation, and the table grew under it until the next ANALYZE; ingest then
-- ran at about half speed. A plan made for each batch follows the statistics as they change.
-- The probes stay bounded by the batch as 0013 wrote them; sealed sends (0014) keep one plan
-- per connection, since each of their tables has a single index that fits each lookup.
ALTER FUNCTION hosting.prepare_user_sends(bytea[], uuid[])
  SET plan_cache_mode = force_custom_plan;
ALTER FUNCTION hosting.post_user_messages(uuid[], uuid[], uuid[], text[], text[], text[], bigint)
  SET plan_cache_mode = force_custom_plan;
