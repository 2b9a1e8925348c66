-- The statements of lib/engine/defcache.c.

-- name: engine_defcache_definition
-- A DAG version's definition, parsed once per engine and kept: its own
-- fields in row 0, then one row per task in order, so that the reader holds
-- one task's JSON at a time (and libpq no single message of the whole DAG).
SELECT o.n, o.part::text
  FROM dag_versions v
 CROSS JOIN LATERAL (SELECT 0::bigint AS n, v.definition - 'tasks' AS part
                     UNION ALL
                     SELECT t.n, t.part
                       FROM jsonb_array_elements(v.definition->'tasks')
                            WITH ORDINALITY AS t(part, n)) AS o
 WHERE v.version_id = $1
 ORDER BY o.n
