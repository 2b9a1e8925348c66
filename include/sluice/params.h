#ifndef SLUICE_PARAMS_H
#define SLUICE_PARAMS_H

#include <jansson.h>

#include "sluice/strbuf.h"

/**
 * A run's conf: overrides of the `params` a DAG declares, as given to
 * `sluice trigger --conf k=v` / `--conf-json JSON` (and `sluice test`).
 *
 * Only declared params may be overridden, and an override keeps the type of
 * the default: an integer default takes an integer, a float default any
 * number, a boolean `true` or `false`, a string any text; a list or mapping
 * default can only be given in JSON. A param whose default is null takes
 * anything. The conf holds only the overrides; the defaults stay in the DAG.
 *
 * Errors are SL_EINVAL with one sentence in `err` that names the key (and,
 * for an unknown key, the closest declared one).
 */

/** A JSON value's type as messages name it: "a string", "a list", "null", ... */
const char *sl_json_type_name(const json_t *v);

/**
 * Set `key` in the JSON object `conf` from the command-line text `value`,
 * converted to the type of the default in `params`.
 */
int sl_params_set_text(json_t *conf, const json_t *params, const char *key, const char *value,
                       struct sl_strbuf *err);

/**
 * Check every member of the JSON object `overrides` against `params` and
 * copy it into `conf`. `overrides` that is not an object is an error.
 */
int sl_params_set_json(json_t *conf, const json_t *params, const json_t *overrides,
                       struct sl_strbuf *err);

#endif
