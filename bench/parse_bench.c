/*
 * bench/parse_bench: the measuring half of bench/parse.
 *
 *   parse_bench gen DIR N TASKS   write N generated DAG files of TASKS tasks
 *   parse_bench yaml DIR          baseline: read + libyaml event parse only
 *   parse_bench load DIR          sl_dag_load_file on every file
 *   parse_bench exec CMD ARGS...  run a command, report its wall time and RSS
 *
 * Every mode except gen prints one line: "<seconds> <files> <peak_rss_kib>".
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "sluice/alloc.h"
#include "sluice/dag.h"
#include "sluice/diag.h"
#include "sluice/strbuf.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long self_rss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int gen(const char *dir, int files, int tasks)
{
	struct sl_strbuf sb = SL_STRBUF_INIT;

	for (int f = 0; f < files; f++) {
		char *path = sl_xasprintf("%s/dag_%04d.yaml", dir, f);
		FILE *out;

		sl_strbuf_reset(&sb);
		sl_strbuf_addf(&sb,
		               "dag: generated_%04d\n"
		               "description: Generated DAG %d for the parse benchmark\n"
		               "schedule: \"%d %d * * *\"\n"
		               "timezone: Europe/Paris\n"
		               "start_date: 2026-01-01\n"
		               "tags: [bench, generated]\n"
		               "params: {region: eu, limit: 100}\n"
		               "env: {PYTHONUNBUFFERED: \"1\"}\n"
		               "defaults:\n  retries: 2\n  retry_delay: 30s\n"
		               "  retry_backoff: exponential\n  timeout: 1h\n"
		               "tasks:\n",
		               f, f, f % 60, f % 24);
		for (int t = 0; t < tasks; t++) {
			sl_strbuf_addf(&sb,
			               "  task_%02d:\n"
			               "    command: ./scripts/step.sh --day \"{{ ds }}\" --n %d "
			               "--region \"{{ params.region }}\"\n",
			               t, t);
			if (t > 0)
				sl_strbuf_addf(&sb, "    depends_on: [task_%02d%s]\n", t - 1,
				               t > 2 ? ", task_00" : "");
			if (t % 5 == 4)
				sl_strbuf_adds(&sb, "    pool: warehouse\n    priority: 5\n"
				                    "    trigger_rule: all_done\n");
		}
		out = fopen(path, "w");
		if (!out || fwrite(sb.buf, 1, sb.len, out) != sb.len || fclose(out)) {
			perror(path);
			return 1;
		}
		free(path);
	}
	sl_strbuf_release(&sb);
	return 0;
}

static int list_files(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nr = 0, alloc = 0;

	if (!d) {
		perror(dir);
		exit(1);
	}
	while ((de = readdir(d))) {
		if (!strstr(de->d_name, ".yaml"))
			continue;
		SL_ALLOC_GROW(names, nr + 1, alloc);
		names[nr++] = sl_xasprintf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	*out = names;
	return (int)nr;
}

static int parse_events(const char *path)
{
	struct sl_strbuf sb = SL_STRBUF_INIT, err = SL_STRBUF_INIT;
	yaml_parser_t parser;
	yaml_event_t event;
	int done = 0, rc = 0;

	if (sl_strbuf_read_file(&sb, path, 1 << 20, &err) < 0 || !yaml_parser_initialize(&parser))
		return -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)sb.buf, sb.len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &event)) {
			rc = -1;
			break;
		}
		done = event.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&event);
	}
	yaml_parser_delete(&parser);
	sl_strbuf_release(&sb);
	sl_strbuf_release(&err);
	return rc;
}

static int run_mode(const char *mode, const char *dir)
{
	char **files;
	int n = list_files(dir, &files), bad = 0;
	double t0 = now();

	for (int i = 0; i < n; i++) {
		if (!strcmp(mode, "yaml")) {
			bad += parse_events(files[i]) < 0;
		} else {
			struct sl_diags diags = SL_DIAGS_INIT;
			struct sl_dag *dag = NULL;

			bad += sl_dag_load_file(&dag, files[i], NULL, &diags) < 0;
			sl_dag_free(dag);
			sl_diags_release(&diags);
		}
	}
	printf("%.6f %d %ld\n", now() - t0, n, self_rss_kib());
	for (int i = 0; i < n; i++)
		free(files[i]);
	free(files);
	if (bad)
		fprintf(stderr, "parse_bench: %d of %d files failed to load\n", bad, n);
	return bad != 0;
}

static int run_exec(char **argv)
{
	struct rusage ru;
	double t0 = now();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* Only our own line may reach stdout: the caller sorts it. */
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		return 1;
	printf("%.6f - %ld\n", now() - t0, ru.ru_maxrss);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 3 && (!strcmp(argv[1], "yaml") || !strcmp(argv[1], "load")))
		return run_mode(argv[1], argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "exec"))
		return run_exec(argv + 2);
	fprintf(stderr, "usage: parse_bench gen DIR N TASKS | yaml DIR | load DIR | exec CMD...\n");
	return 2;
}
