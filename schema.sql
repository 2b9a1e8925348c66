-- sluice's database schema: the complete current snapshot.
--
-- This file is documentation and a fresh-install shortcut; the numbered
-- files in migrations/ are the source of truth, and `sluice db init` applies
-- them (compiled into the binary). tests/cli/t0010-db.sh checks that loading
-- this file and migrating from zero give the same `pg_dump --schema-only`
-- and the same schema_migrations rows. When you add a migration, update this
-- file to the schema it produces and add its row at the end.
--
-- Loading it by hand: psql -v ON_ERROR_STOP=1 -1 -f schema.sql
-- (the -1 makes it one transaction). See docs/database.md.

CREATE TABLE schema_migrations (
	version    integer     PRIMARY KEY CHECK (version > 0),
	name       text        NOT NULL CHECK (name ~ '^[a-z0-9_]{1,100}$'),
	applied_at timestamptz NOT NULL DEFAULT now()
);

-- Ids of DAGs, tasks, pools and workers: docs/dag-format.md's [A-Za-z0-9_.-]{1,200}.
CREATE DOMAIN sl_id AS text
	CONSTRAINT sl_id_check CHECK (VALUE ~ '^[A-Za-z0-9_.-]{1,200}$');

-- A full git object id: SHA-1 (40 hex digits) or SHA-256 (64).
CREATE DOMAIN sl_oid AS text
	CONSTRAINT sl_oid_check CHECK (VALUE ~ '^([0-9a-f]{40}|[0-9a-f]{64})$');

CREATE TABLE dags (
	dag_id            sl_id       PRIMARY KEY,
	paused            boolean     NOT NULL,
	first_seen_at     timestamptz NOT NULL DEFAULT now(),
	-- Set while the DAG's file is missing at the current commit.
	removed_at        timestamptz,
	-- The last version that loaded without error: it keeps running while
	-- a newer push of the file is broken. NULL until one loads.
	latest_version_id bigint,
	-- Cached by the scheduler: when the next scheduled run is due.
	next_run_after    timestamptz,
	updated_at        timestamptz NOT NULL DEFAULT now(),
	-- The commit new runs pin: the current commit when the DAG's file
	-- there is its latest version (new or unchanged), else (the file is
	-- broken at the current commit) the last commit at which it loaded.
	-- (0002)
	run_commit        sl_oid
);

-- Every second the scheduler asks which DAGs are due for a new run:
--   SELECT ... FROM dags WHERE NOT paused AND removed_at IS NULL
--     AND next_run_after <= now()
CREATE INDEX dags_due_idx ON dags (next_run_after)
	WHERE NOT paused AND removed_at IS NULL;

CREATE TABLE dag_versions (
	version_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dag_id     sl_id       NOT NULL REFERENCES dags ON DELETE CASCADE,
	commit     sl_oid      NOT NULL,
	blob_id    sl_oid      NOT NULL,
	path       text        NOT NULL CHECK (path <> ''),
	definition jsonb       NOT NULL
		CONSTRAINT dag_versions_definition_check
		CHECK (jsonb_typeof(definition) = 'object'),
	created_at timestamptz NOT NULL DEFAULT now(),
	-- What SQL reads of the definition, as columns (0007): the schedule as
	-- written (NULL: triggered only), start_date NULL for "when first
	-- seen". The tasks' order and retries are read from the JSON
	-- (include/sluice/dag_json.h).
	schedule         text
		CONSTRAINT dag_versions_schedule_check CHECK (schedule <> ''),
	timezone         text        NOT NULL
		CONSTRAINT dag_versions_timezone_check CHECK (timezone <> ''),
	start_date       timestamptz,
	end_date         timestamptz,
	catchup          boolean     NOT NULL,
	max_active_runs  integer     NOT NULL
		CONSTRAINT dag_versions_max_active_runs_check CHECK (max_active_runs >= 1),
	max_active_tasks integer     NOT NULL
		CONSTRAINT dag_versions_max_active_tasks_check CHECK (max_active_tasks >= 1),
	-- The file's text (0015); NULL for versions stored before it.
	source           text,
	-- Its tags and owner (0019), for the DAG list.
	tags             text[]      NOT NULL DEFAULT '{}',
	owner            text,
	CONSTRAINT dag_versions_dates_check CHECK (start_date <= end_date),
	-- One DAG is one file, so one version per DAG and commit at most.
	CONSTRAINT dag_versions_dag_commit_key UNIQUE (dag_id, commit),
	-- Target of the composite foreign keys below: a run (or a DAG's
	-- latest version) can only point at a version of the same DAG.
	CONSTRAINT dag_versions_dag_version_key UNIQUE (dag_id, version_id)
);

ALTER TABLE dags ADD CONSTRAINT dags_latest_version_fkey
	FOREIGN KEY (dag_id, latest_version_id)
	REFERENCES dag_versions (dag_id, version_id);

-- Files that failed to load, per commit (`sluice dags errors`). dag_id is
-- NULL when the error is in the `dag:` key itself or the file is unreadable.
CREATE TABLE load_errors (
	error_id   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	commit     sl_oid      NOT NULL,
	path       text        NOT NULL CHECK (path <> ''),
	dag_id     text,
	line       integer     NOT NULL CHECK (line >= 1),
	col        integer     NOT NULL CHECK (col >= 1),
	message    text        NOT NULL CHECK (message <> ''),
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX load_errors_commit_idx ON load_errors (commit, path, line, col);

CREATE TABLE runs (
	run_pk              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dag_id              sl_id       NOT NULL REFERENCES dags ON DELETE CASCADE,
	run_id              text        NOT NULL
		CONSTRAINT runs_run_id_check
		CHECK (run_id ~ '^[A-Za-z0-9_.:+~-]{1,250}$'),
	-- The pinned definition and the commit whose tree the tasks run in
	-- (not always the version's own commit: a push that only changes a
	-- script keeps the DAG's version but moves the commit).
	version_id          bigint      NOT NULL,
	commit              sl_oid      NOT NULL,
	run_type            text        NOT NULL
		CONSTRAINT runs_run_type_check
		CHECK (run_type IN ('scheduled', 'manual', 'backfill')),
	logical_date        timestamptz NOT NULL,
	data_interval_start timestamptz NOT NULL,
	data_interval_end   timestamptz NOT NULL,
	conf                jsonb       NOT NULL DEFAULT '{}'
		CONSTRAINT runs_conf_check CHECK (jsonb_typeof(conf) = 'object'),
	state               text        NOT NULL DEFAULT 'queued'
		CONSTRAINT runs_state_check
		CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),
	created_at          timestamptz NOT NULL DEFAULT now(),
	started_at          timestamptz,
	ended_at            timestamptz,
	updated_at          timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT runs_dag_run_id_key UNIQUE (dag_id, run_id),
	CONSTRAINT runs_version_fkey FOREIGN KEY (dag_id, version_id)
		REFERENCES dag_versions (dag_id, version_id),
	CONSTRAINT runs_data_interval_check
		CHECK (data_interval_start <= data_interval_end),
	-- A finished run has an end time and a live one has none.
	CONSTRAINT runs_ended_at_check
		CHECK ((state IN ('success', 'failed', 'cancelled')) = (ended_at IS NOT NULL)),
	CONSTRAINT runs_times_check CHECK (started_at <= ended_at)
);

-- Two schedulers (or a scheduler racing a backfill) can never create two
-- runs of one interval; manual runs may share a logical date.
CREATE UNIQUE INDEX runs_interval_key ON runs (dag_id, logical_date)
	WHERE run_type <> 'manual';

-- Every second the scheduler walks the live runs (to start queued ones
-- within max_active_runs and to advance running ones):
--   SELECT ... FROM runs WHERE state IN ('queued', 'running') ORDER BY ...
CREATE INDEX runs_live_idx ON runs (dag_id, logical_date)
	WHERE state IN ('queued', 'running');

-- `runs list DAG`, and the last run of each DAG in `dags list`.
CREATE INDEX runs_dag_logical_date_idx ON runs (dag_id, logical_date DESC);

-- `runs list [DAG] --state S`: each DAG's newest runs in one state. (0003)
--   SELECT ... FROM runs WHERE dag_id = $1 AND state = $2
--     ORDER BY logical_date DESC, run_pk DESC LIMIT $3
CREATE INDEX runs_dag_state_logical_date_idx ON runs (dag_id, state, logical_date DESC);

CREATE TABLE task_instances (
	ti_id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	run_pk        bigint      NOT NULL REFERENCES runs ON DELETE CASCADE,
	task_id       sl_id       NOT NULL,
	state         text        NOT NULL DEFAULT 'pending'
		CONSTRAINT task_instances_state_check
		CHECK (state IN ('pending', 'scheduled', 'queued', 'running', 'success',
				 'failed', 'up_for_retry', 'up_for_reschedule',
				 'upstream_failed', 'skipped', 'cancelled', 'removed')),
	-- The try being run or last run; 0 before the first attempt.
	try_number    integer     NOT NULL DEFAULT 0 CHECK (try_number >= 0),
	-- Tries allowed in all (retries + 1); `tasks clear` raises it.
	max_tries     integer     NOT NULL CHECK (max_tries >= 1),
	-- When an up_for_retry task may run again, or an up_for_reschedule
	-- sensor pokes again.
	next_retry_at timestamptz,
	priority      integer     NOT NULL DEFAULT 0,
	-- Not a foreign key: a DAG may name a pool before an operator creates
	-- it; the scheduler gives a missing pool no slots.
	pool          sl_id,
	queue         sl_id       NOT NULL DEFAULT 'default',
	started_at    timestamptz,
	ended_at      timestamptz,
	updated_at    timestamptz NOT NULL DEFAULT now(),
	-- 'task', or 'callback': a run's on_failure / on_success, created when
	-- the run finishes, with task_id 'on_failure' or 'on_success'. (0004)
	kind          text        NOT NULL DEFAULT 'task'
		CONSTRAINT task_instances_kind_check CHECK (kind IN ('task', 'callback')),
	-- Why the scheduler set the state without running anything (a pool
	-- that does not exist, a branch not taken). (0004)
	reason        text
		CONSTRAINT task_instances_reason_check CHECK (reason <> ''),
	-- The pokes of the current try while a sensor is being poked; 0 once
	-- the try ended otherwise, so the next attempt begins a new try. (0011)
	poke_number   integer     NOT NULL DEFAULT 0
		CONSTRAINT task_instances_poke_number_check CHECK (poke_number >= 0),
	CONSTRAINT task_instances_run_kind_task_key UNIQUE (run_pk, kind, task_id),
	CONSTRAINT task_instances_next_retry_check
		CHECK (state NOT IN ('up_for_retry', 'up_for_reschedule')
		       OR next_retry_at IS NOT NULL),
	CONSTRAINT task_instances_times_check CHECK (started_at <= ended_at)
);

-- Every second the scheduler picks tasks whose dependencies are met, by
-- queue, highest priority first:
--   SELECT ... FROM task_instances WHERE state = 'scheduled' AND queue = $1
--     ORDER BY priority DESC, ti_id LIMIT $2
CREATE INDEX task_instances_dispatch_idx ON task_instances (queue, priority DESC, ti_id)
	WHERE state = 'scheduled';
-- The same per run, for the claim's first few of each run (0020).
CREATE INDEX task_instances_run_dispatch_idx ON task_instances (run_pk, priority DESC, ti_id)
	WHERE state = 'scheduled';
-- The runs with a callback due, for the claim too (0020).
CREATE INDEX task_instances_callback_due_idx ON task_instances (run_pk)
	WHERE state = 'scheduled' AND kind = 'callback';

-- Every second: retries and sensor pokes whose time has come.
--   SELECT ... FROM task_instances
--     WHERE state IN ('up_for_retry', 'up_for_reschedule') AND next_retry_at <= now()
CREATE INDEX task_instances_retry_due_idx ON task_instances (next_retry_at)
	WHERE state IN ('up_for_retry', 'up_for_reschedule');

-- Every second, before dispatching: slots in use per pool.
--   SELECT pool, count(*) FROM task_instances
--     WHERE state IN ('queued', 'running') AND pool IS NOT NULL GROUP BY pool
CREATE INDEX task_instances_pool_busy_idx ON task_instances (pool)
	WHERE state IN ('queued', 'running') AND pool IS NOT NULL;

-- Every claim: each candidate run's task instances in flight
-- (max_active_tasks), without reading its finished ones. (0006)
--   SELECT count(*) FROM task_instances WHERE run_pk = $1
--     AND state IN ('queued', 'running')
CREATE INDEX task_instances_in_flight_idx ON task_instances (run_pk)
	WHERE state IN ('queued', 'running');

CREATE TABLE workers (
	worker_id         sl_id       PRIMARY KEY,
	host              text        NOT NULL CHECK (host <> ''),
	queues            text[]      NOT NULL CHECK (cardinality(queues) >= 1),
	slots             integer     NOT NULL CHECK (slots >= 1),
	state             text        NOT NULL DEFAULT 'active'
		CONSTRAINT workers_state_check
		CHECK (state IN ('active', 'draining', 'gone')),
	version           text,
	started_at        timestamptz NOT NULL DEFAULT now(),
	last_heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Every second: workers whose heartbeat is older than heartbeat_timeout.
--   SELECT worker_id FROM workers
--     WHERE state <> 'gone' AND last_heartbeat_at < now() - $1
CREATE INDEX workers_heartbeat_idx ON workers (last_heartbeat_at)
	WHERE state <> 'gone';

-- A worker's own credential (`sluice workers add`): the SHA-256 of its
-- random secret, or, once revoked, no hash and the name refused. A name
-- without a row may use the shared token. (0009)
CREATE TABLE worker_credentials (
	worker_id   sl_id       PRIMARY KEY,
	sha256 bytea
		CONSTRAINT worker_credentials_hash_check CHECK (octet_length(sha256) = 32),
	created_at  timestamptz NOT NULL DEFAULT now(),
	revoked_at  timestamptz,
	-- How many times the secret was replaced (--rotate, or add after revoke).
	rotations   integer     NOT NULL DEFAULT 0 CHECK (rotations >= 0),
	CONSTRAINT worker_credentials_state_check
		CHECK ((sha256 IS NULL) = (revoked_at IS NOT NULL))
);

CREATE TABLE users (
	name          sl_id       PRIMARY KEY,
	role          text        NOT NULL
		CONSTRAINT users_role_check CHECK (role IN ('viewer', 'operator', 'admin')),
	password_hash text        NOT NULL
		CONSTRAINT users_password_hash_check CHECK (password_hash LIKE '$argon2id$%'),
	created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
	token_id     bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_name    sl_id       NOT NULL REFERENCES users ON DELETE CASCADE,
	sha256       bytea       NOT NULL UNIQUE
		CONSTRAINT api_tokens_hash_check CHECK (octet_length(sha256) = 32),
	created_at   timestamptz NOT NULL DEFAULT now(),
	revoked_at   timestamptz,
	last_used_at timestamptz
);

CREATE INDEX api_tokens_user_idx ON api_tokens (user_name);

CREATE TABLE audit_log (
	audit_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL DEFAULT now(),
	-- The login name behind the CLI, or the account behind the web.
	actor    text        NOT NULL,
	via      text        NOT NULL CONSTRAINT audit_log_via_check CHECK (via IN ('cli', 'web')),
	-- What was done ('users add', 'tokens revoke', ...) and to what.
	action   text        NOT NULL,
	target   text        NOT NULL DEFAULT ''
);
-- sluice-web counts the recent refused sign-ins before it checks a
-- password (0017).
CREATE INDEX audit_log_login_failed_idx ON audit_log (at) WHERE action = 'login failed';

-- The web UI's sign-in sessions, by the SHA-256 of the cookie's secret;
-- the secret itself is never stored. (0016)
CREATE TABLE web_sessions (
	sha256       bytea       PRIMARY KEY
		CONSTRAINT web_sessions_hash_check CHECK (octet_length(sha256) = 32),
	user_name    sl_id       NOT NULL REFERENCES users ON DELETE CASCADE,
	csrf_token   text        NOT NULL
		CONSTRAINT web_sessions_csrf_check CHECK (length(csrf_token) >= 32),
	created_at   timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL
);

CREATE INDEX web_sessions_user_idx ON web_sessions (user_name);

CREATE TABLE attempts (
	attempt_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ti_id         bigint      NOT NULL REFERENCES task_instances ON DELETE CASCADE,
	try_number    integer     NOT NULL CHECK (try_number >= 1),
	-- The worker's name, kept as history (no foreign key: a worker that
	-- is gone for good may be deleted, its attempts stay).
	worker_id     text,
	-- 63 random bits from the server's cryptographic source: any client
	-- with the shared worker token may send reports, so a token must not
	-- be guessable. Only ever compared for equality. (0008)
	fencing_token bigint      NOT NULL DEFAULT GREATEST(
		(('x' || encode(substring(uuid_send(gen_random_uuid()) FROM 1 FOR 8), 'hex'))::bit(64)
		 # ('x' || encode(substring(uuid_send(gen_random_uuid()) FROM 9 FOR 8), 'hex'))::bit(64)
		)::bigint & 9223372036854775807, 1),
	queued_at     timestamptz NOT NULL DEFAULT now(),
	started_at    timestamptz,
	ended_at      timestamptz,
	-- How the attempt ended; NULL exactly while it is live.
	outcome       text
		CONSTRAINT attempts_outcome_check
		CHECK (outcome IN ('success', 'failed', 'skipped', 'reschedule',
				   'timeout', 'lost', 'cancelled')),
	exit_code     integer     CHECK (exit_code BETWEEN 0 AND 255),
	signal        integer     CHECK (signal BETWEEN 1 AND 127),
	-- key=value lines the task wrote to $SLUICE_OUTPUT (64 KiB at most).
	outputs       jsonb       NOT NULL DEFAULT '{}'
		CONSTRAINT attempts_outputs_check
		CHECK (jsonb_typeof(outputs) = 'object'
		       AND octet_length(outputs::text) <= 131072),
	log_bytes     bigint      NOT NULL DEFAULT 0 CHECK (log_bytes >= 0),
	-- Set when the log reached the configured log_limit and the rest was
	-- dropped.
	log_truncated boolean     NOT NULL DEFAULT false,
	-- Ended by an operator while its process may still run: set until the
	-- worker confirms the process is gone (or is lost); such a task
	-- instance is not handed out again meanwhile. (0005)
	stop_pending  boolean     NOT NULL DEFAULT false,
	-- The run's pin when this try was dispatched: the definition and the
	-- commit it ran with (a run moves to a newer one with `tasks clear
	-- --latest`). NULL only for rows written by hand. (0010)
	version_id    bigint,
	commit        sl_oid,
	-- Which poke of its try this attempt is: a sensor's pokes share their
	-- try number; anything else has one poke per try. (0011)
	poke_number   integer     NOT NULL DEFAULT 1
		CONSTRAINT attempts_poke_number_check CHECK (poke_number >= 1),
	CONSTRAINT attempts_ti_try_key UNIQUE (ti_id, try_number, poke_number),
	CONSTRAINT attempts_fencing_token_key UNIQUE (fencing_token),
	CONSTRAINT attempts_live_check CHECK ((ended_at IS NULL) = (outcome IS NULL)),
	CONSTRAINT attempts_exit_check CHECK (exit_code IS NULL OR signal IS NULL),
	CONSTRAINT attempts_times_check CHECK (started_at <= ended_at),
	CONSTRAINT attempts_stop_pending_check CHECK (NOT stop_pending OR ended_at IS NOT NULL)
);

-- The guarantee of docs/reliability.md: a task instance never has two attempts running
-- at the same time. Inserting a second live attempt fails here, whatever
-- the scheduler believes.
CREATE UNIQUE INDEX attempts_one_live_key ON attempts (ti_id)
	WHERE ended_at IS NULL;

-- Every second, for each worker found dead: its live attempts, to fail
-- them as lost.
--   SELECT ... FROM attempts WHERE ended_at IS NULL AND worker_id = $1
CREATE INDEX attempts_live_worker_idx ON attempts (worker_id)
	WHERE ended_at IS NULL;

-- Every claim: a task instance whose ended attempt may still be running on
-- a worker is not handed out again. (0005)
--   ... AND NOT EXISTS (SELECT 1 FROM attempts s WHERE s.ti_id = ti.ti_id AND s.stop_pending)
CREATE INDEX attempts_stop_pending_idx ON attempts (ti_id) WHERE stop_pending;

-- An attempt's stdout and stderr, in the order received, in chunks of at
-- most 64 KiB; the scheduler stops storing at log_limit (see attempts).
CREATE TABLE log_chunks (
	attempt_id bigint      NOT NULL REFERENCES attempts ON DELETE CASCADE,
	seq        integer     NOT NULL CHECK (seq >= 0),
	data       bytea       NOT NULL
		CONSTRAINT log_chunks_size_check
		CHECK (octet_length(data) BETWEEN 1 AND 65536),
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (attempt_id, seq)
);

CREATE TABLE pools (
	name        sl_id       PRIMARY KEY,
	slots       integer     NOT NULL CHECK (slots >= 0),
	description text        NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The scheduler leader's lease: at most one row. A scheduler holds the lease
-- while expires_at is in the future and renews it with its heartbeat; a new
-- leader increments epoch, which fences writes from an old one.
CREATE TABLE scheduler_lease (
	singleton    boolean     PRIMARY KEY DEFAULT true
		CONSTRAINT scheduler_lease_singleton_check CHECK (singleton),
	holder       text        NOT NULL CHECK (holder <> ''),
	epoch        bigint      NOT NULL CHECK (epoch >= 1),
	commit       sl_oid,
	acquired_at  timestamptz NOT NULL DEFAULT now(),
	heartbeat_at timestamptz NOT NULL DEFAULT now(),
	expires_at   timestamptz NOT NULL,
	CONSTRAINT scheduler_lease_times_check
		CHECK (acquired_at <= heartbeat_at AND heartbeat_at < expires_at)
);

-- What the last refresh of the DAG repository read: at most one row,
-- replaced by each sync in the same transaction as the versions and load
-- errors of that commit. (0002)
CREATE TABLE source_state (
	singleton    boolean     PRIMARY KEY DEFAULT true
		CONSTRAINT source_state_singleton_check CHECK (singleton),
	repo         text        NOT NULL CHECK (repo <> ''),
	-- The branch resolved (NULL when it was not recorded).
	branch       text,
	-- The folder in the repository; '' is the root.
	path         text        NOT NULL,
	commit       sl_oid      NOT NULL,
	refreshed_at timestamptz NOT NULL DEFAULT now()
);

-- Live updates for sluice-web: one NOTIFY sluice_events per statement
-- that changes runs' or task instances' states or stores log bytes, with
-- what it touched as JSON ({"overflow":true} past 7900 bytes). (0013)
CREATE FUNCTION sl_events_send(payload text) RETURNS void
LANGUAGE sql AS $$
	SELECT pg_notify('sluice_events',
	                 CASE WHEN octet_length(payload) <= 7900 THEN payload
	                      ELSE '{"overflow":true}' END)
	WHERE payload IS NOT NULL
$$;

CREATE FUNCTION sl_events_runs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('runs', json_agg(json_build_object(
			'dag', n.dag_id, 'run_id', n.run_id, 'state', n.state)))::text
		FROM new_rows n
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_runs_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('runs', json_agg(json_build_object(
			'dag', n.dag_id, 'run_id', n.run_id, 'state', n.state)))::text
		FROM new_rows n JOIN old_rows o USING (run_pk)
		WHERE n.state IS DISTINCT FROM o.state
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_tasks_updated() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('tasks', json_agg(json_build_object(
			'dag', r.dag_id, 'run_id', r.run_id, 'task', n.task_id,
			'state', n.state, 'try', n.try_number)))::text
		FROM new_rows n JOIN old_rows o USING (ti_id) JOIN runs r ON r.run_pk = n.run_pk
		WHERE n.state IS DISTINCT FROM o.state OR n.try_number <> o.try_number
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE FUNCTION sl_events_logs_inserted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM sl_events_send((
		SELECT json_build_object('logs', json_agg(json_build_object(
			'dag', l.dag_id, 'run_id', l.run_id, 'task', l.task_id,
			'try', l.try_number, 'bytes', l.bytes)))::text
		FROM (SELECT r.dag_id, r.run_id, ti.task_id, a.try_number,
		             sum(octet_length(n.data)) AS bytes
		      FROM new_rows n
		      JOIN attempts a USING (attempt_id)
		      JOIN task_instances ti ON ti.ti_id = a.ti_id
		      JOIN runs r ON r.run_pk = ti.run_pk
		      GROUP BY r.dag_id, r.run_id, ti.task_id, a.try_number) l
		HAVING count(*) > 0));
	RETURN NULL;
END
$$;

CREATE TRIGGER runs_events_inserted AFTER INSERT ON runs
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_runs_inserted();
CREATE TRIGGER runs_events_updated AFTER UPDATE ON runs
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_runs_updated();
CREATE TRIGGER task_instances_events_updated AFTER UPDATE ON task_instances
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_tasks_updated();
CREATE TRIGGER log_chunks_events_inserted AFTER INSERT ON log_chunks
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION sl_events_logs_inserted();

-- sluice-web's role: what the pages read and the API changes, nothing
-- else (no DAG versions, worker credentials, lease, attempts' results,
-- logs or schema). Made when missing: roles belong to the cluster. (0014)
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'sluice_web') THEN
		CREATE ROLE sluice_web NOLOGIN;
	END IF;
END
$$;

-- What the pages and the API read.
GRANT SELECT ON dags, dag_versions, load_errors, runs, task_instances, attempts, log_chunks,
	pools, workers, users, api_tokens, audit_log, scheduler_lease, source_state,
	schema_migrations
	TO sluice_web;
-- whether a worker has its own credential, not its hash (0018).
GRANT SELECT (worker_id, revoked_at) ON worker_credentials TO sluice_web;
-- trigger (a run and its task instances), cancel, clear, mark.
GRANT INSERT, UPDATE ON runs, task_instances TO sluice_web;
GRANT UPDATE ON attempts TO sluice_web;
-- pause and unpause.
GRANT UPDATE (paused, updated_at) ON dags TO sluice_web;
-- pools set and delete.
GRANT INSERT, UPDATE, DELETE ON pools TO sluice_web;
-- accounts and tokens (admins), a token's last use, and every change's audit row.
GRANT INSERT, UPDATE, DELETE ON users TO sluice_web;
GRANT INSERT, UPDATE ON api_tokens TO sluice_web;
GRANT INSERT ON audit_log TO sluice_web;
GRANT USAGE ON SEQUENCE runs_run_pk_seq, task_instances_ti_id_seq, api_tokens_token_id_seq,
	audit_log_audit_id_seq
	TO sluice_web;
-- sessions of the web UI: sign-in, their use, sign-out. (0016)
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO sluice_web;

-- The migrations this snapshot contains, as `sluice db migrate` would have
-- recorded them.
INSERT INTO schema_migrations (version, name) VALUES
	(1, 'initial'),
	(2, 'source_state'),
	(3, 'runs_state_idx'),
	(4, 'callbacks_reason'),
	(5, 'attempt_stop_pending'),
	(6, 'task_instances_in_flight_idx'),
	(7, 'dag_version_columns'),
	(8, 'random_fencing_tokens'),
	(9, 'worker_credentials'),
	(10, 'attempt_version'),
	(11, 'poke_number'),
	(12, 'users_tokens_audit'),
	(13, 'live_events'),
	(14, 'web_role'),
	(15, 'dag_version_source'),
	(16, 'web_sessions'),
	(17, 'login_throttle'),
	(18, 'web_worker_state'),
	(19, 'dag_version_tags'),
	(20, 'run_dispatch_idx');
