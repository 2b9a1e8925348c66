-- 0019_dag_version_tags: a version's `tags` and `owner`, as columns like
-- the others SQL reads (0007), for the DAG list (`sluice dags list`,
-- GET /api/v1/dags) and its tag filter. Versions stored before this
-- migration get theirs from their definition, where both have always been.
ALTER TABLE dag_versions
	ADD COLUMN tags text[] NOT NULL DEFAULT '{}',
	ADD COLUMN owner text;
UPDATE dag_versions
   SET tags = ARRAY(SELECT jsonb_array_elements_text(definition->'tags')),
       owner = definition->>'owner'
 WHERE jsonb_typeof(definition->'tags') = 'array' OR definition ? 'owner';
