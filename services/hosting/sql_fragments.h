#pragma once

// SQL fragments that several hosting repositories splice into their statements. They are
// macros so that each statement stays one string literal, joined at compile time: no SQL is
// assembled at run time.

// A timestamptz column as whole microseconds since the epoch (bigint).
#define HOSTING_SQL_MICROS(col) "(extract(epoch from " col ") * 1000000)::bigint"

// The status of message m (1 sent, 2 delivered, 3 read) from its conversation's watermarks;
// the statement must LEFT JOIN hosting.conversation_marks as mk.
#define HOSTING_SQL_STATUS_OF_M                                             \
  "hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq, " \
  "mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq, mk.biz_msgs_read_seq)"
