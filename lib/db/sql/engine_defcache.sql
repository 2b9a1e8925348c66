-- The statements of lib/engine/defcache.c.

-- name: engine_defcache_definition
-- A DAG version's definition, parsed once per engine and kept.
SELECT definition FROM dag_versions WHERE version_id = $1
