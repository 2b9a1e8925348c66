#ifndef SLUICE_TESTS_TASKRUN_H
#define SLUICE_TESTS_TASKRUN_H

#include <stdbool.h>

#include <uv.h>

#include "sluice/strbuf.h"
#include "sluice/taskexec.h"

/* One attempt run to completion on a private loop, for the tests of
 * taskexec and taskenv (tests/taskrun.c). */
struct run {
	uv_loop_t *loop;
	struct sl_strbuf out, err;
	struct sl_taskexec_result res;
	int done;
	bool loop_alive_in_done;
	struct sl_taskexec *te;
};

void run_release(struct run *r);
/* Options that collect the attempt's output and result into `r`. */
void opts_init(struct sl_taskexec_opts *o, struct run *r, const char *cmd);
/* Run to completion on a private loop; the loop must close cleanly. */
void run_opts(struct run *r, struct sl_taskexec_opts *o);
void run_cmd(struct run *r, const char *cmd);

#endif
