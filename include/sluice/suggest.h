#ifndef SLUICE_SUGGEST_H
#define SLUICE_SUGGEST_H

#include <stddef.h>

/**
 * "Did you mean" hints: the candidate closest to a misspelt word, by
 * optimal-string-alignment distance (Levenshtein plus adjacent
 * transpositions, so "retires" is one edit from "retries").
 *
 *     struct sl_suggest s;
 *
 *     sl_suggest_init(&s, word);
 *     for (...)
 *             sl_suggest_consider(&s, candidate);
 *     if (s.best)
 *             ... "(did you mean '%s'?)", s.best ...
 *
 * A candidate is only kept when it is close enough to be a likely typo:
 * at most 1 edit for words of up to 3 characters, 2 up to 6, 3 beyond.
 * Ties keep the first candidate considered. Words or candidates longer than
 * SL_SUGGEST_MAX_LEN are never matched, which bounds the cost of one call.
 */

#define SL_SUGGEST_MAX_LEN 256

struct sl_suggest {
	const char *word;
	size_t word_len;
	size_t limit;     /* largest distance accepted */
	const char *best; /* NULL until a close candidate is seen; borrowed */
	size_t best_distance;
};

void sl_suggest_init(struct sl_suggest *s, const char *word);
void sl_suggest_consider(struct sl_suggest *s, const char *candidate);

/** Convenience: the best of `nr` candidates, or NULL. */
const char *sl_suggest_best(const char *word, const char *const *candidates, size_t nr);

/**
 * Edit distance between `a` and `b`, or any value above `max` when it is
 * larger than `max` (the computation stops early). Both must be at most
 * SL_SUGGEST_MAX_LEN bytes.
 */
size_t sl_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len, size_t max);

#endif
