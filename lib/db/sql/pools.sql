-- Pools: `sluice pools list|show|set|delete`.

-- name: pools_list
-- Every pool ($1 NULL) or one, and every pool that a live task instance
-- names without it being defined, with the slots in use (queued, running)
-- and waiting (scheduled). task_instances_pool_busy_idx serves the
-- queued/running count; scheduled task instances are few (they wait for a
-- slot).
WITH busy AS (
    SELECT pool,
           count(*) FILTER (WHERE state IN ('queued', 'running')) AS used,
           count(*) FILTER (WHERE state = 'scheduled') AS waiting
      FROM task_instances
     WHERE pool IS NOT NULL AND state IN ('scheduled', 'queued', 'running')
     GROUP BY pool)
SELECT coalesce(p.name, b.pool), p.name IS NOT NULL, coalesce(p.slots, 0),
       coalesce(b.used, 0), coalesce(b.waiting, 0), coalesce(p.description, '')
  FROM pools p
  FULL JOIN busy b ON b.pool = p.name
 WHERE $1::text IS NULL OR coalesce(p.name, b.pool) = $1
 ORDER BY 1

-- name: pools_set
-- An upsert to fixed values: safe to send again after a lost connection.
-- A NULL description ($3) keeps the one there is.
INSERT INTO pools (name, slots, description)
VALUES ($1, $2::integer, coalesce($3, ''))
    ON CONFLICT (name) DO UPDATE
   SET slots = EXCLUDED.slots, description = coalesce($3, pools.description),
       updated_at = now()

-- name: pools_delete
DELETE FROM pools WHERE name = $1 RETURNING slots
