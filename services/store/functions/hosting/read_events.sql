-- One page of an owner's event log, with what each event needs: its message (unless expired),
-- the conversation's statuses, for notices the business's current terms, for reactions (kind
-- 4) the other side's current reaction to the message (sealed; NULL once removed), and for
-- webhook endpoint notices (kind 5, no conversation) the endpoint's state when it was written,
-- and whether media is attached to the message (so a page without media costs no media query).
-- Inbox streams read a page on every wake, so this one keeps its plan: planning the six-way
-- join cost more than running it. The plan is fixed to what is right at any size, a walk of
-- the owner's log in position order with a lookup by key for each event: the join methods that
-- read a whole table are ruled out.
DROP FUNCTION IF EXISTS hosting.read_events(uuid, bigint, integer, bigint);
CREATE OR REPLACE FUNCTION hosting.read_events(p_owner uuid, p_after bigint, p_limit integer,
                                    p_default_lifetime bigint)
RETURNS TABLE (event_position bigint, kind smallint, conversation_id text, user_id text,
               business_id text, message_id text, status integer, notice_kind integer,
               direction smallint, body bytea, template_name text, message_status smallint,
               created_micros bigint, business_name text, terms_version bigint,
               lifetime_seconds bigint, data_use_statement text, no_storage boolean,
               reaction bytea, reaction_micros bigint,
               endpoint_id text, endpoint_url text, endpoint_reason text,
               endpoint_last_error text, has_media boolean)
LANGUAGE plpgsql STABLE
-- A page is at most a few hundred rows. Without this the planner takes 1,000 per call, and a
-- statement calling it for several owners (webhooks' ReadLogs) looks costly enough to be
-- JIT-compiled, which took 50 ms each time.
ROWS 100
SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  SELECT e.position, e.kind, coalesce(e.conversation_id::text, ''),
         coalesce(c.user_id::text, ''), coalesce(c.business_id::text, ''),
         coalesce(e.message_id::text, ''), coalesce(e.status, 0)::integer,
         coalesce(e.notice_kind, 0)::integer, m.direction, m.body,
         coalesce(m.template_name, ''),
         hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq,
                                mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq,
                                mk.biz_msgs_read_seq),
         (extract(epoch from m.created_at) * 1000000)::bigint,
         coalesce(b.display_name, ''), coalesce(t.version, 1),
         coalesce(t.lifetime_seconds, p_default_lifetime),
         coalesce(t.data_use_statement, ''), coalesce(t.no_storage, false),
         r.emoji, (extract(epoch from r.updated_at) * 1000000)::bigint,
         coalesce(e.endpoint_id::text, ''), coalesce(e.endpoint_state ->> 'url', ''),
         coalesce(e.endpoint_state ->> 'reason', ''),
         coalesce(e.endpoint_state ->> 'last_error', ''),
         m.message_id IS NOT NULL
           AND EXISTS (SELECT 1 FROM hosting.media md WHERE md.message_id = m.message_id)
  FROM hosting.events e
  LEFT JOIN hosting.conversations c ON c.conversation_id = e.conversation_id
  LEFT JOIN core.businesses b ON b.business_id = c.business_id
  LEFT JOIN hosting.messages m ON m.message_id = e.message_id AND m.expires_at > now()
  LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = e.conversation_id
  LEFT JOIN hosting.business_terms t ON t.business_id = c.business_id AND e.kind = 3
  LEFT JOIN hosting.message_reactions r
    ON e.kind = 4 AND r.message_id = e.message_id
   AND r.party = CASE WHEN e.owner_id = c.business_id THEN 1 ELSE 2 END
  WHERE e.owner_id = p_owner AND e.position > p_after
  ORDER BY e.position LIMIT p_limit;
END
$$;
