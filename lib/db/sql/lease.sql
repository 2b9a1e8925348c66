-- The leader lease (scheduler/lease.c explains how it is held).

-- name: lease_acquire
-- Take or renew the lease for $1 for $3 seconds; $2 is the commit this
-- scheduler refreshed last (NULL: what the DAG source says). The row's
-- epoch goes up whenever the lease changes hands or is taken again after
-- it expired, so each tenure has its own number. Returns (true, $1, epoch)
-- when $1 holds it, else (false, holder, epoch) of the live holder, else
-- no row.
WITH up AS (
    INSERT INTO scheduler_lease AS l
           (holder, epoch, commit, acquired_at, heartbeat_at, expires_at)
    VALUES ($1::text, 1, coalesce($2::text, (SELECT commit FROM source_state)), now(), now(),
            now() + make_interval(secs => $3::double precision))
        ON CONFLICT (singleton) DO UPDATE
       SET epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()
                        THEN l.epoch ELSE l.epoch + 1 END,
           acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()
                              THEN l.acquired_at ELSE now() END,
           holder = EXCLUDED.holder, commit = coalesce(EXCLUDED.commit, l.commit),
           heartbeat_at = now(), expires_at = EXCLUDED.expires_at
     WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
 RETURNING epoch)
SELECT true, $1::text, epoch FROM up
 UNION ALL
SELECT false, holder, epoch
  FROM scheduler_lease
 WHERE expires_at > now() AND NOT EXISTS (SELECT 1 FROM up)

-- name: lease_release
-- Expire rather than delete: the epoch keeps counting up and `sluice
-- status` can say whose lease ended. The times stay ordered as the table's
-- check requires.
UPDATE scheduler_lease
   SET expires_at = now(),
       heartbeat_at = least(heartbeat_at, now() - interval '1 millisecond'),
       acquired_at = least(acquired_at, now() - interval '1 millisecond')
 WHERE holder = $1 AND expires_at > now()
