# Put DAG versions straight into a test database, without a git repository:
# for tests of commands that only need a DAG to exist. Source after pg.sh
# (SLUICE_DATABASE_URL set, schema initialised with `sluice db init`).
#
#     seed_dag FILE [COMMIT]    # store FILE's DAG as the latest version,
#                               # pinned to COMMIT (40 hex; default 0…01)
#
# The definition is what `sluice dags show --json FILE` prints, the same JSON
# a refresh from git stores; the columns a refresh sets from the parsed DAG
# (migration 0007) are read from it as that migration fills older rows.

seed_dag() {
	seed_file=$1
	seed_commit=${2:-0000000000000000000000000000000000000001}
	seed_json=$("$SLUICE" dags show --json "$seed_file") || return 1
	seed_id=$(printf '%s' "$seed_json" | jq -r .dag)
	seed_blob=$(printf '%s' "$seed_json" | sha1sum | cut -c1-40)
	# Through a file: a big DAG's JSON is longer than one argument may be.
	printf '%s' "$seed_json" >"$TMP/seed.json"
	psql -X -q -v ON_ERROR_STOP=1 -v dag="$seed_id" -v commit="$seed_commit" \
		-v blob="$seed_blob" -v path="$(basename "$seed_file")" -v deffile="$TMP/seed.json" <<'SQL'
\set def `cat :deffile`
BEGIN;
INSERT INTO dags (dag_id, paused) VALUES (:'dag', false)
	ON CONFLICT (dag_id) DO UPDATE SET removed_at = NULL;
WITH v AS (
	INSERT INTO dag_versions (dag_id, commit, blob_id, path, definition, schedule, timezone,
		start_date, end_date, catchup, max_active_runs, max_active_tasks)
	SELECT :'dag', :'commit', :'blob', :'path', d, d->>'schedule', d->>'timezone',
		(d->>'start_date')::timestamptz, (d->>'end_date')::timestamptz,
		(d->'catchup')::boolean, (d->>'max_active_runs')::integer,
		(d->>'max_active_tasks')::integer
	FROM (SELECT :'def'::jsonb AS d) def
	RETURNING version_id)
UPDATE dags SET latest_version_id = (SELECT version_id FROM v), updated_at = now()
	WHERE dag_id = :'dag';
-- New runs pin this commit too (dags.run_commit, from migration 0002 on).
DO $$ BEGIN
	IF EXISTS (SELECT 1 FROM information_schema.columns
		   WHERE table_name = 'dags' AND column_name = 'run_commit') THEN
		EXECUTE 'UPDATE dags SET run_commit = v.commit FROM dag_versions v
			 WHERE v.version_id = dags.latest_version_id';
	END IF;
	-- Its tags and owner as columns (migration 0019).
	IF EXISTS (SELECT 1 FROM information_schema.columns
		   WHERE table_name = 'dag_versions' AND column_name = 'owner') THEN
		EXECUTE 'UPDATE dag_versions
			    SET tags = ARRAY(SELECT jsonb_array_elements_text(definition->''tags'')),
			        owner = definition->>''owner''
			  WHERE jsonb_typeof(definition->''tags'') = ''array'' OR definition ? ''owner'' ';
	END IF;
END $$;
COMMIT;
SQL
}
