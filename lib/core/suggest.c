#include "sluice/suggest.h"

#include <string.h>
#include "sluice/banned.h"

size_t sl_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len, size_t max)
{
	/* Three rows of the optimal-string-alignment table. */
	size_t rows[3][SL_SUGGEST_MAX_LEN + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (a_len > b_len ? a_len - b_len > max : b_len - a_len > max)
		return max + 1;
	for (size_t j = 0; j <= b_len; j++)
		prev[j] = j;
	for (size_t i = 1; i <= a_len; i++) {
		size_t row_min;
		size_t *t;

		cur[0] = i;
		row_min = i;
		for (size_t j = 1; j <= b_len; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t d = prev[j - 1] + cost;

			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
			if (d < row_min)
				row_min = d;
		}
		if (row_min > max)
			return max + 1;
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[b_len];
}

void sl_suggest_init(struct sl_suggest *s, const char *word)
{
	s->word = word;
	s->word_len = strlen(word);
	s->limit = s->word_len <= 3 ? 1 : s->word_len <= 6 ? 2 : 3;
	s->best = NULL;
	s->best_distance = s->limit + 1;
}

void sl_suggest_consider(struct sl_suggest *s, const char *candidate)
{
	size_t len = strlen(candidate);
	size_t d;

	if (s->word_len > SL_SUGGEST_MAX_LEN || len > SL_SUGGEST_MAX_LEN || !len ||
	    !s->best_distance)
		return;
	d = sl_edit_distance(s->word, s->word_len, candidate, len, s->best_distance - 1);
	/* A distance equal to the word's length means nothing in common. */
	if (d < s->best_distance && d < s->word_len) {
		s->best = candidate;
		s->best_distance = d;
	}
}

const char *sl_suggest_best(const char *word, const char *const *candidates, size_t nr)
{
	struct sl_suggest s;

	sl_suggest_init(&s, word);
	for (size_t i = 0; i < nr; i++)
		sl_suggest_consider(&s, candidates[i]);
	return s.best;
}
