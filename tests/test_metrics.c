#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "sluice/metrics.h"
#include "sluice/strbuf.h"

static const char *render(const struct sl_metrics *m, struct sl_strbuf *out)
{
	sl_strbuf_reset(out);
	sl_metrics_render(m, out);
	return out->buf;
}

static void test_counter_and_gauge(void **state)
{
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric *c, *g;

	(void)state;
	c = sl_metric_series(sl_metrics_counter(&m, "x_total", "Things done.", NULL, 0), NULL);
	g = sl_metric_series(sl_metrics_gauge(&m, "x_slots", "Slots.", NULL, 0), NULL);
	assert_string_equal(render(&m, &out), "# HELP x_total Things done.\n"
	                                      "# TYPE x_total counter\n"
	                                      "x_total 0\n"
	                                      "# HELP x_slots Slots.\n"
	                                      "# TYPE x_slots gauge\n"
	                                      "x_slots 0\n");
	sl_metric_inc(c);
	sl_metric_add(c, 2.5);
	/* A counter never goes down, by an add or a set. */
	sl_metric_add(c, -1);
	sl_metric_set(c, 1);
	sl_metric_set(g, 4);
	sl_metric_add(g, -5);
	/* Observing a counter as a histogram, or NULL, changes nothing. */
	sl_metric_observe(c, 9);
	sl_metric_inc(NULL);
	assert_non_null(strstr(render(&m, &out), "\nx_total 3.5\n"));
	assert_non_null(strstr(out.buf, "\nx_slots -1\n"));
	sl_metric_set(c, 10);
	assert_non_null(strstr(render(&m, &out), "\nx_total 10\n"));
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

static void test_labels_and_escaping(void **state)
{
	static const char *const labels[] = {"outcome", "queue"};
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric_family *f;
	struct sl_metric *a, *b;

	(void)state;
	f = sl_metrics_counter(&m, "r_total", "Help with \\ and\nnewline \"quoted\".", labels, 2);
	a = sl_metric_series(f, (const char *[]){"success", "default"});
	b = sl_metric_series(f, (const char *[]){"a\\b\"c\nd", "q"});
	/* The same values are the same series. */
	assert_ptr_equal(sl_metric_series(f, (const char *[]){"success", "default"}), a);
	sl_metric_inc(a);
	sl_metric_add(b, 2);
	assert_string_equal(render(&m, &out),
	                    "# HELP r_total Help with \\\\ and\\nnewline \"quoted\".\n"
	                    "# TYPE r_total counter\n"
	                    "r_total{outcome=\"success\",queue=\"default\"} 1\n"
	                    "r_total{outcome=\"a\\\\b\\\"c\\nd\",queue=\"q\"} 2\n");
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

static void test_histogram_bounds(void **state)
{
	static const double buckets[] = {0.25, 0.5, 1, 2.5};
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric *h;

	(void)state;
	h = sl_metric_series(sl_metrics_histogram(&m, "t_seconds", "Time.", NULL, 0, buckets, 4),
	                     NULL);
	/* A value equal to a bound counts in that bound's bucket. */
	sl_metric_observe(h, 0.5);
	sl_metric_observe(h, 0.25);
	sl_metric_observe(h, 0.375);
	sl_metric_observe(h, 2.5);
	sl_metric_observe(h, 3);
	sl_metric_observe(h, 0);
	assert_string_equal(render(&m, &out), "# HELP t_seconds Time.\n"
	                                      "# TYPE t_seconds histogram\n"
	                                      "t_seconds_bucket{le=\"0.25\"} 2\n"
	                                      "t_seconds_bucket{le=\"0.5\"} 4\n"
	                                      "t_seconds_bucket{le=\"1\"} 4\n"
	                                      "t_seconds_bucket{le=\"2.5\"} 5\n"
	                                      "t_seconds_bucket{le=\"+Inf\"} 6\n"
	                                      "t_seconds_sum 6.625\n"
	                                      "t_seconds_count 6\n");
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

static void test_histogram_labels(void **state)
{
	static const double buckets[] = {1};
	static const char *const labels[] = {"queue"};
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric_family *f;

	(void)state;
	f = sl_metrics_histogram(&m, "h_seconds", "H.", labels, 1, buckets, 1);
	/* A labelled family has no series until one is registered. */
	assert_string_equal(render(&m, &out), "# HELP h_seconds H.\n# TYPE h_seconds histogram\n");
	sl_metric_observe(sl_metric_series(f, (const char *[]){"gpu"}), NAN);
	assert_non_null(strstr(render(&m, &out), "h_seconds_bucket{queue=\"gpu\",le=\"1\"} 0\n"
	                                         "h_seconds_bucket{queue=\"gpu\",le=\"+Inf\"} 1\n"
	                                         "h_seconds_sum{queue=\"gpu\"} NaN\n"
	                                         "h_seconds_count{queue=\"gpu\"} 1\n"));
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

static void test_numbers(void **state)
{
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric *g;

	(void)state;
	g = sl_metric_series(sl_metrics_gauge(&m, "n", "N.", NULL, 0), NULL);
	sl_metric_set(g, 0.1);
	assert_non_null(strstr(render(&m, &out), "\nn 0.1\n"));
	sl_metric_set(g, 1234.5);
	assert_non_null(strstr(render(&m, &out), "\nn 1234.5\n"));
	sl_metric_set(g, 0.000123);
	assert_non_null(strstr(render(&m, &out), "\nn 0.000123\n"));
	sl_metric_set(g, 1e21);
	assert_non_null(strstr(render(&m, &out), "\nn 1e+21\n"));
	sl_metric_set(g, 9007199254740993.0);
	assert_non_null(strstr(render(&m, &out), "\nn 9007199254740992\n"));
	sl_metric_set(g, -INFINITY);
	assert_non_null(strstr(render(&m, &out), "\nn -Inf\n"));
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

static void test_outcome_series(void **state)
{
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct sl_metric *by[SL_OUTCOME_LOST + 1];
	static const char *const labels[] = {"outcome"};

	(void)state;
	sl_metric_outcome_series(sl_metrics_counter(&m, "a_total", "A.", labels, 1), by);
	assert_null(by[0]);
	sl_metric_inc(by[SL_OUTCOME_TIMEOUT]);
	render(&m, &out);
	assert_non_null(strstr(out.buf, "a_total{outcome=\"success\"} 0\n"));
	assert_non_null(strstr(out.buf, "a_total{outcome=\"timeout\"} 1\n"));
	assert_non_null(strstr(out.buf, "a_total{outcome=\"lost\"} 0\n"));
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

struct two {
	struct sl_metric *a, *b;
};

static void test_add_plain(void **state)
{
	static const struct sl_metric_plain items[] = {
	    {SL_METRIC_COUNTER, "p_total", "P.", offsetof(struct two, a)},
	    {SL_METRIC_GAUGE, "q", "Q.", offsetof(struct two, b)},
	};
	struct sl_metrics m = SL_METRICS_INIT;
	struct sl_strbuf out = SL_STRBUF_INIT;
	struct two t = {NULL, NULL};

	(void)state;
	sl_metrics_add_plain(&m, items, 2, &t);
	sl_metric_inc(t.a);
	sl_metric_set(t.b, 7);
	assert_string_equal(render(&m, &out),
	                    "# HELP p_total P.\n# TYPE p_total counter\np_total 1\n"
	                    "# HELP q Q.\n# TYPE q gauge\nq 7\n");
	sl_metrics_release(&m);
	sl_strbuf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counter_and_gauge), cmocka_unit_test(test_labels_and_escaping),
	    cmocka_unit_test(test_histogram_bounds),  cmocka_unit_test(test_histogram_labels),
	    cmocka_unit_test(test_numbers),           cmocka_unit_test(test_outcome_series),
	    cmocka_unit_test(test_add_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
