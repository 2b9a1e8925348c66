-- A task's attempts and their logs, for `tasks logs`.

-- name: tasks_attempt
-- The attempt of task instance $1 with try number $2 and poke number $3
-- (NULL: the latest), the task's state, every try number it has, as
-- "1, 2", and the attempt's poke number.
SELECT a.attempt_id, a.try_number, a.outcome, a.log_truncated, ti.state,
       (SELECT string_agg(x.try_number::text, ', ' ORDER BY x.try_number)
          FROM (SELECT DISTINCT try_number FROM attempts WHERE ti_id = $1) x),
       a.poke_number
  FROM task_instances ti
  LEFT JOIN LATERAL (SELECT *
                       FROM attempts
                      WHERE ti_id = ti.ti_id AND ($2::int IS NULL OR try_number = $2)
                        AND ($3::int IS NULL OR poke_number = $3)
                      ORDER BY try_number DESC, poke_number DESC
                      LIMIT 1) a ON true
 WHERE ti.ti_id = $1

-- name: tasks_log_index
-- Every chunk of attempt $1's log, by seq, with its length but not its
-- bytes (a toasted value's length needs no detoasting), and whether the
-- attempt had ended: what a byte range of the log is read from.
SELECT a.ended_at IS NOT NULL, c.seq, octet_length(c.data)
  FROM attempts a
  LEFT JOIN log_chunks c ON c.attempt_id = a.attempt_id
 WHERE a.attempt_id = $1
 ORDER BY c.seq

-- name: tasks_log_chunk_span
-- The bytes of attempt $1's chunks $2 to $3 (seqs), in order.
SELECT seq, data
  FROM log_chunks
 WHERE attempt_id = $1 AND seq BETWEEN $2 AND $3
 ORDER BY seq

-- name: tasks_log_chunks
-- Up to 64 chunks of attempt $1's log from seq $2 on, and whether the
-- attempt had ended, read on one snapshot: when it had, every chunk it
-- wrote is in this result or an earlier one.
SELECT a.ended_at IS NOT NULL, c.seq, c.data
  FROM attempts a
  LEFT JOIN LATERAL (SELECT seq, data
                       FROM log_chunks
                      WHERE attempt_id = a.attempt_id AND seq >= $2
                      ORDER BY seq
                      LIMIT 64) c ON true
 WHERE a.attempt_id = $1
