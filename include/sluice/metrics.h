#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/outcome.h"
#include "sluice/strbuf.h"

/**
 * A daemon's own Prometheus metrics (docs/metrics.md): a registry of
 * counters, gauges and histograms, rendered in the text exposition format
 * 0.0.4. Pure code with no I/O and no lock: it belongs to one loop thread,
 * which both observes and renders.
 *
 * Memory is bounded by what the program registers, not by what it
 * observes: a family has at most SL_METRICS_LABELS_MAX label names, and
 * at most SL_METRICS_SERIES_MAX label value tuples, each registered by the
 * program (sl_metric_series) before it is observed: values come from the
 * program's own vocabularies (an outcome, a state), never from the
 * network. Observing is an addition on memory that exists already.
 *
 * Registration mistakes are the program's, never the input's: a name
 * that is not a Prometheus name, a name registered twice, a label named
 * `le` on a histogram, buckets not strictly increasing, or a family full
 * of series abort with a "BUG:" line, as running out of memory does
 * (sluice/alloc.h).
 *
 *     struct sl_metrics m = SL_METRICS_INIT;
 *     struct sl_metric_family *f = sl_metrics_counter(&m, "sluice_worker_attempts_total",
 *                                                     "Attempts ended, by outcome.",
 *                                                     (const char *[]){"outcome"}, 1);
 *     struct sl_metric *ok = sl_metric_series(f, (const char *[]){"success"});
 *     sl_metric_inc(ok);
 *     sl_metrics_render(&m, &body);
 */

enum sl_metric_type {
	SL_METRIC_COUNTER,
	SL_METRIC_GAUGE,
	SL_METRIC_HISTOGRAM,
};

#define SL_METRICS_LABELS_MAX  2
#define SL_METRICS_SERIES_MAX  64
#define SL_METRICS_BUCKETS_MAX 32

struct sl_metric_family;

/** One series: a family's values for one tuple of label values. */
struct sl_metric {
	struct sl_metric_family *family;
	char *values[SL_METRICS_LABELS_MAX];
	double value; /* a counter's or a gauge's; a histogram's sum */
	/* A histogram's observations per bucket (not cumulative), the last
	 * one past every bound (+Inf); NULL for other types. */
	uint64_t *counts;
	uint64_t count;
};

struct sl_metrics {
	struct sl_metric_family **families;
	size_t nr, alloc;
};

#define SL_METRICS_INIT    \
	{                  \
		NULL, 0, 0 \
	}

void sl_metrics_init(struct sl_metrics *m);
/** Free every family and series; `m` is SL_METRICS_INIT again. */
void sl_metrics_release(struct sl_metrics *m);

/**
 * Register a family named `name` (`[a-zA-Z_:][a-zA-Z0-9_:]*`) with a help
 * line and `labels_nr` label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not
 * starting with `__`). A family without labels has its one series at
 * once (sl_metric_series(f, NULL)). Families are rendered in the order
 * they are registered.
 */
struct sl_metric_family *sl_metrics_counter(struct sl_metrics *m, const char *name,
                                            const char *help, const char *const *labels,
                                            size_t labels_nr);
struct sl_metric_family *sl_metrics_gauge(struct sl_metrics *m, const char *name, const char *help,
                                          const char *const *labels, size_t labels_nr);
/**
 * A histogram with the upper bounds `buckets` (finite, strictly
 * increasing, 1 to SL_METRICS_BUCKETS_MAX of them); +Inf is added. An
 * observation equal to a bound counts in that bound's bucket, as `le`
 * (less or equal) says.
 */
struct sl_metric_family *sl_metrics_histogram(struct sl_metrics *m, const char *name,
                                              const char *help, const char *const *labels,
                                              size_t labels_nr, const double *buckets,
                                              size_t buckets_nr);

/**
 * An unlabelled counter or gauge for sl_metrics_add_plain: its one series
 * is stored at `offset` in the caller's struct (a `struct sl_metric *`
 * member, offsetof), so that a daemon registers its series from a table.
 */
struct sl_metric_plain {
	enum sl_metric_type type; /* SL_METRIC_COUNTER or SL_METRIC_GAUGE */
	const char *name, *help;
	size_t offset;
};

/** One entry of such a table: its series goes to `member` of `type`. */
#define SL_METRIC_PLAIN(kind, name, type, member, help)        \
	{                                                      \
		(kind), (name), (help), offsetof(type, member) \
	}

/** Register each of `items` and store its series in `base` at its offset. */
void sl_metrics_add_plain(struct sl_metrics *m, const struct sl_metric_plain *items, size_t nr,
                          void *base);

/**
 * The series of `f` for the label values `values` (as many as the family
 * has label names; NULL for a family without labels), registered on its
 * first call. Any text is a valid value: it is escaped when rendered.
 * Series are rendered in the order they are registered.
 */
struct sl_metric *sl_metric_series(struct sl_metric_family *f, const char *const *values);

/**
 * Register one series of `f` (a family with one label, its outcome) per
 * outcome, `out[outcome]` for each valid enum sl_outcome (`out[0]` is
 * NULL): the outcome names are sl_outcome_name's.
 */
void sl_metric_outcome_series(struct sl_metric_family *f,
                              struct sl_metric *out[SL_OUTCOME_LOST + 1]);

/*
 * Observations. A NULL series is allowed and ignored, so that an optional
 * series needs no test at the call.
 */

/** A counter or a gauge goes up by one. */
void sl_metric_inc(struct sl_metric *s);
/** A counter or a gauge goes up by `v`; a counter ignores a negative `v` (it never goes down). */
void sl_metric_add(struct sl_metric *s, double v);
/**
 * A gauge becomes `v`. On a counter, for one that mirrors a count kept
 * elsewhere: it only ever goes up (a smaller `v` is ignored).
 */
void sl_metric_set(struct sl_metric *s, double v);
/** A histogram observes `v` (its bucket, sum and count). */
void sl_metric_observe(struct sl_metric *s, double v);

/**
 * Append every family to `out` in the text exposition format 0.0.4: `#
 * HELP` (with `\` and newline escaped), `# TYPE`, then each series; a
 * histogram's `_bucket{le="..."}` (cumulative, ending with `+Inf`),
 * `_sum` and `_count`. Label values have `\`, `"` and newline escaped.
 */
void sl_metrics_render(const struct sl_metrics *m, struct sl_strbuf *out);

/*
 * Without a registry, for a page computed afresh at each scrape from data
 * of unbounded variety (sluice-web's series, one per DAG, from the
 * database): the same format, written family by family. The caller writes
 * a family's header once, then its samples; `name` and the label names
 * must be Prometheus names (they are not checked here), values are
 * escaped.
 */
void sl_metrics_write_header(struct sl_strbuf *out, const char *name, enum sl_metric_type type,
                             const char *help);
void sl_metrics_write_sample(struct sl_strbuf *out, const char *name, const char *const *labels,
                             const char *const *values, size_t labels_nr, double value);

/** The Content-Type of what sl_metrics_render writes. */
#define SL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
