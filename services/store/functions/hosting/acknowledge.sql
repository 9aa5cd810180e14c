-- Acknowledging an event log is one statement: the five statements it took (and their round
-- trips, each a wake-up of the server process on a busy machine) run inside this function,
-- in the same order and with the same effects:
-- * the acknowledged message events move each conversation's delivered watermark for the
--   senders' side, and one status event per conversation whose watermark moved (naming its
--   latest message) goes to the sender to tell, if any (none for an erased user), so a message
--   a webhook delivered already is not announced again (hosting.move_delivered_marks);
-- * delivered messages of no-storage businesses expire after the grace;
-- * the log's acknowledged position moves up, never past its last event, never back;
-- * the events up to it are dropped, starting after the previous acknowledgement; for a
--   business with enabled webhook endpoints, only those every endpoint delivered too
--   (hosting.drop_delivered_events).
-- Planned on each call, as those statements were: which conversations and how many messages an
-- acknowledgement covers varies widely.
CREATE OR REPLACE FUNCTION hosting.acknowledge(p_owner uuid, p_position bigint, p_no_storage_grace bigint)
RETURNS bigint
LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan
AS $$
#variable_conflict use_column
DECLARE
  v_before bigint;
  v_acked bigint;
  v_tell uuid[];
  v_conversations uuid[];
  v_directions smallint[];
  v_seqs bigint[];
  v_messages uuid[];
BEGIN
  SELECT coalesce((SELECT a.acked_position FROM hosting.mailbox_acks a
                   WHERE a.owner_id = p_owner), 0) INTO v_before;

  SELECT array_agg(a.conversation_id ORDER BY a.conversation_id, a.direction),
         array_agg(a.direction ORDER BY a.conversation_id, a.direction),
         array_agg(a.seq ORDER BY a.conversation_id, a.direction)
  INTO v_conversations, v_directions, v_seqs
  FROM (
    SELECT m.conversation_id, m.direction, max(m.seq) AS seq
    FROM hosting.events e JOIN hosting.messages m ON m.message_id = e.message_id
    WHERE e.owner_id = p_owner AND e.position > v_before AND e.position <= p_position
      AND e.kind = 1
    GROUP BY m.conversation_id, m.direction
  ) a;

  IF v_conversations IS NOT NULL THEN
    SELECT d.o_tell, d.o_conversations, d.o_messages INTO v_tell, v_conversations, v_messages
    FROM hosting.move_delivered_marks(v_conversations, v_directions, v_seqs,
                                      p_no_storage_grace) d;
  END IF;

  INSERT INTO hosting.mailbox_acks AS a (owner_id, acked_position)
  VALUES (p_owner, least(p_position, coalesce((SELECT h.last_position FROM hosting.mailbox_heads h
                                               WHERE h.owner_id = p_owner), 0)))
  ON CONFLICT (owner_id) DO UPDATE SET
    acked_position = greatest(a.acked_position, excluded.acked_position)
  RETURNING a.acked_position INTO v_acked;

  IF EXISTS (SELECT 1 FROM hosting.webhook_endpoints w
             WHERE w.business_id = p_owner AND w.enabled) THEN
    PERFORM hosting.drop_delivered_events(p_owner);
  ELSE
    DELETE FROM hosting.events e
    WHERE e.owner_id = p_owner AND e.position > v_before AND e.position <= v_acked;
  END IF;

  IF v_conversations IS NOT NULL THEN
    PERFORM hosting.append_status_events(v_tell, v_conversations, v_messages, 2::smallint);
  END IF;
  RETURN v_acked;
END
$$;
