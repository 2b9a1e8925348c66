#include "sluice/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/alloc.h"
#include "sluice/banned.h"

struct sl_metric_family {
	enum sl_metric_type type;
	char *name, *help;
	char *labels[SL_METRICS_LABELS_MAX];
	size_t labels_nr;
	double *bounds; /* a histogram's finite upper bounds */
	size_t bounds_nr;
	struct sl_metric *series[SL_METRICS_SERIES_MAX];
	size_t series_nr;
};

/* A registration the program got wrong: see the header. */
__attribute__((noreturn, format(printf, 1, 2))) static void bug(const char *fmt, ...)
{
	va_list ap;

	fputs("BUG: metrics: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

void sl_metrics_init(struct sl_metrics *m)
{
	*m = (struct sl_metrics)SL_METRICS_INIT;
}

static void series_free(struct sl_metric *s)
{
	for (size_t i = 0; i < SL_METRICS_LABELS_MAX; i++)
		free(s->values[i]);
	free(s->counts);
	free(s);
}

void sl_metrics_release(struct sl_metrics *m)
{
	for (size_t i = 0; i < m->nr; i++) {
		struct sl_metric_family *f = m->families[i];

		for (size_t k = 0; k < f->series_nr; k++)
			series_free(f->series[k]);
		for (size_t k = 0; k < f->labels_nr; k++)
			free(f->labels[k]);
		free(f->name);
		free(f->help);
		free(f->bounds);
		free(f);
	}
	free(m->families);
	sl_metrics_init(m);
}

static bool name_char(char c, bool first, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool valid_name(const char *s, bool colon)
{
	if (!s[0])
		return false;
	for (size_t i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0, colon))
			return false;
	return true;
}

static struct sl_metric_family *add_family(struct sl_metrics *m, enum sl_metric_type type,
                                           const char *name, const char *help,
                                           const char *const *labels, size_t labels_nr)
{
	struct sl_metric_family *f;

	if (!valid_name(name, true))
		bug("'%s' is not a metric name", name);
	for (size_t i = 0; i < m->nr; i++)
		if (!strcmp(m->families[i]->name, name))
			bug("%s is registered twice", name);
	if (labels_nr > SL_METRICS_LABELS_MAX)
		bug("%s has %zu labels (at most %d)", name, labels_nr, SL_METRICS_LABELS_MAX);
	f = sl_xcalloc(1, sizeof(*f));
	f->type = type;
	f->name = sl_xstrdup(name);
	f->help = sl_xstrdup(help);
	for (size_t i = 0; i < labels_nr; i++) {
		if (!valid_name(labels[i], false) || !strncmp(labels[i], "__", 2) ||
		    (type == SL_METRIC_HISTOGRAM && !strcmp(labels[i], "le")))
			bug("%s: '%s' is not a label name it may have", name, labels[i]);
		f->labels[i] = sl_xstrdup(labels[i]);
	}
	f->labels_nr = labels_nr;
	SL_ALLOC_GROW(m->families, m->nr + 1, m->alloc);
	m->families[m->nr++] = f;
	return f;
}

struct sl_metric_family *sl_metrics_counter(struct sl_metrics *m, const char *name,
                                            const char *help, const char *const *labels,
                                            size_t labels_nr)
{
	struct sl_metric_family *f =
	    add_family(m, SL_METRIC_COUNTER, name, help, labels, labels_nr);

	if (!labels_nr)
		sl_metric_series(f, NULL);
	return f;
}

struct sl_metric_family *sl_metrics_gauge(struct sl_metrics *m, const char *name, const char *help,
                                          const char *const *labels, size_t labels_nr)
{
	struct sl_metric_family *f = add_family(m, SL_METRIC_GAUGE, name, help, labels, labels_nr);

	if (!labels_nr)
		sl_metric_series(f, NULL);
	return f;
}

struct sl_metric_family *sl_metrics_histogram(struct sl_metrics *m, const char *name,
                                              const char *help, const char *const *labels,
                                              size_t labels_nr, const double *buckets,
                                              size_t buckets_nr)
{
	struct sl_metric_family *f;

	if (!buckets_nr || buckets_nr > SL_METRICS_BUCKETS_MAX)
		bug("%s has %zu buckets (1 to %d)", name, buckets_nr, SL_METRICS_BUCKETS_MAX);
	for (size_t i = 0; i < buckets_nr; i++)
		if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
			bug("%s: its buckets are not finite and strictly increasing", name);
	f = add_family(m, SL_METRIC_HISTOGRAM, name, help, labels, labels_nr);
	f->bounds = sl_xmalloc(sl_st_mult(buckets_nr, sizeof(*f->bounds)));
	memcpy(f->bounds, buckets, buckets_nr * sizeof(*f->bounds));
	f->bounds_nr = buckets_nr;
	if (!labels_nr)
		sl_metric_series(f, NULL);
	return f;
}

void sl_metrics_add_plain(struct sl_metrics *m, const struct sl_metric_plain *items, size_t nr,
                          void *base)
{
	for (size_t i = 0; i < nr; i++) {
		const struct sl_metric_plain *it = &items[i];
		struct sl_metric_family *f;

		if (it->type == SL_METRIC_HISTOGRAM)
			bug("%s: a histogram needs buckets", it->name);
		f = add_family(m, it->type, it->name, it->help, NULL, 0);
		*(struct sl_metric **)((char *)base + it->offset) = sl_metric_series(f, NULL);
	}
}

static bool same_values(const struct sl_metric *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i]))
			return false;
	return true;
}

struct sl_metric *sl_metric_series(struct sl_metric_family *f, const char *const *values)
{
	struct sl_metric *s;

	for (size_t i = 0; i < f->series_nr; i++)
		if (same_values(f->series[i], values, f->labels_nr))
			return f->series[i];
	if (f->series_nr == SL_METRICS_SERIES_MAX)
		bug("%s has more than %d series", f->name, SL_METRICS_SERIES_MAX);
	s = sl_xcalloc(1, sizeof(*s));
	s->family = f;
	for (size_t i = 0; i < f->labels_nr; i++)
		s->values[i] = sl_xstrdup(values[i]);
	if (f->type == SL_METRIC_HISTOGRAM)
		s->counts = sl_xcalloc(f->bounds_nr + 1, sizeof(*s->counts));
	f->series[f->series_nr++] = s;
	return s;
}

void sl_metric_outcome_series(struct sl_metric_family *f,
                              struct sl_metric *out[SL_OUTCOME_LOST + 1])
{
	if (f->labels_nr != 1)
		bug("%s: outcome series need one label", f->name);
	out[0] = NULL;
	for (int o = 1; o <= SL_OUTCOME_LOST; o++) {
		const char *name = sl_outcome_name((enum sl_outcome)o);

		out[o] = sl_outcome_valid((enum sl_outcome)o) ? sl_metric_series(f, &name) : NULL;
	}
}

void sl_metric_inc(struct sl_metric *s)
{
	sl_metric_add(s, 1);
}

void sl_metric_add(struct sl_metric *s, double v)
{
	if (!s || s->family->type == SL_METRIC_HISTOGRAM)
		return;
	if (s->family->type == SL_METRIC_COUNTER && !(v >= 0))
		return;
	s->value += v;
}

void sl_metric_set(struct sl_metric *s, double v)
{
	if (!s || s->family->type == SL_METRIC_HISTOGRAM)
		return;
	if (s->family->type == SL_METRIC_COUNTER && !(v >= s->value))
		return;
	s->value = v;
}

void sl_metric_observe(struct sl_metric *s, double v)
{
	const struct sl_metric_family *f;
	size_t b = 0;

	if (!s || s->family->type != SL_METRIC_HISTOGRAM)
		return;
	f = s->family;
	/* `le`: a value equal to a bound is in that bound's bucket; NaN in +Inf's. */
	while (b < f->bounds_nr && !(v <= f->bounds[b]))
		b++;
	s->counts[b]++;
	s->count++;
	s->value += v;
}

/* ---- the text format ---------------------------------------------------- */

/*
 * A sample value or a bound: the shortest decimal that reads back as the
 * same double (Go's and Python's clients print the same), or one of the
 * format's names for the non-finite ones.
 */
static void add_number(struct sl_strbuf *out, double v)
{
	char buf[40];

	if (isnan(v)) {
		sl_strbuf_adds(out, "NaN");
		return;
	}
	if (isinf(v)) {
		sl_strbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* %g would write 10 as 1e+01, the shortest form but not the usual one.
	 * (No floor(): the core links no libm.) */
	if (v > -1e17 && v < 1e17 && (double)(int64_t)v == v) {
		sl_strbuf_addf(out, "%.0f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	sl_strbuf_adds(out, buf);
}

/* `\` and newline always; `"` too inside a label value. */
static void add_escaped(struct sl_strbuf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			sl_strbuf_adds(out, "\\\\");
		else if (*s == '\n')
			sl_strbuf_adds(out, "\\n");
		else if (quote && *s == '"')
			sl_strbuf_adds(out, "\\\"");
		else
			sl_strbuf_addch(out, *s);
	}
}

/* NAME SUFFIX {labels..., le="BOUND"} VALUE; `le` NULL: no such label. */
static void sample_line(struct sl_strbuf *out, const char *name, const char *suffix,
                        const char *const *labels, const char *const *values, size_t labels_nr,
                        const char *le, double value)
{
	sl_strbuf_adds(out, name);
	sl_strbuf_adds(out, suffix);
	if (labels_nr || le) {
		sl_strbuf_addch(out, '{');
		for (size_t i = 0; i < labels_nr; i++) {
			sl_strbuf_addf(out, "%s%s=\"", i ? "," : "", labels[i]);
			add_escaped(out, values[i], true);
			sl_strbuf_addch(out, '"');
		}
		if (le)
			sl_strbuf_addf(out, "%sle=\"%s\"", labels_nr ? "," : "", le);
		sl_strbuf_addch(out, '}');
	}
	sl_strbuf_addch(out, ' ');
	add_number(out, value);
	sl_strbuf_addch(out, '\n');
}

static void add_sample(struct sl_strbuf *out, const struct sl_metric *s, const char *suffix,
                       const char *le, double value)
{
	const struct sl_metric_family *f = s->family;

	sample_line(out, f->name, suffix, (const char *const *)f->labels,
	            (const char *const *)s->values, f->labels_nr, le, value);
}

void sl_metrics_write_header(struct sl_strbuf *out, const char *name, enum sl_metric_type type,
                             const char *help)
{
	static const char *const types[] = {
	    [SL_METRIC_COUNTER] = "counter",
	    [SL_METRIC_GAUGE] = "gauge",
	    [SL_METRIC_HISTOGRAM] = "histogram",
	};

	sl_strbuf_addf(out, "# HELP %s ", name);
	add_escaped(out, help, false);
	sl_strbuf_addf(out, "\n# TYPE %s %s\n", name, types[type]);
}

void sl_metrics_write_sample(struct sl_strbuf *out, const char *name, const char *const *labels,
                             const char *const *values, size_t labels_nr, double value)
{
	sample_line(out, name, "", labels, values, labels_nr, NULL, value);
}

static void add_histogram(struct sl_strbuf *out, const struct sl_metric *s)
{
	const struct sl_metric_family *f = s->family;
	struct sl_strbuf le = SL_STRBUF_INIT;
	uint64_t cumulative = 0;

	for (size_t b = 0; b <= f->bounds_nr; b++) {
		sl_strbuf_reset(&le);
		add_number(&le, b < f->bounds_nr ? f->bounds[b] : INFINITY);
		cumulative += s->counts[b];
		add_sample(out, s, "_bucket", le.buf, (double)cumulative);
	}
	add_sample(out, s, "_sum", NULL, s->value);
	add_sample(out, s, "_count", NULL, (double)s->count);
	sl_strbuf_release(&le);
}

void sl_metrics_render(const struct sl_metrics *m, struct sl_strbuf *out)
{
	for (size_t i = 0; i < m->nr; i++) {
		const struct sl_metric_family *f = m->families[i];

		sl_metrics_write_header(out, f->name, f->type, f->help);
		for (size_t k = 0; k < f->series_nr; k++) {
			if (f->type == SL_METRIC_HISTOGRAM)
				add_histogram(out, f->series[k]);
			else
				add_sample(out, f->series[k], "", NULL, f->series[k]->value);
		}
	}
}
