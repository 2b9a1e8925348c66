#ifndef SLUICE_PRIVS_H
#define SLUICE_PRIVS_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/privs.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <stdbool.h>

#include "sluice/strbuf.h"

/**
 * The worker's own Linux capabilities (capabilities(7)), for running tasks
 * as another user (docs/worker.md, "task_user").
 *
 * A service that is not root gets capabilities from systemd only through
 * AmbientCapabilities=, and the ambient set survives execve(2). It is not
 * cleared by setuid(2) either when neither the old nor the new user is
 * root: a task spawned by such a worker, setuid to the task user, would
 * start with CAP_SETUID and could make itself root. So the worker, at
 * start, empties its ambient and inheritable sets and keeps its permitted
 * and effective ones for itself: an execve by a non-root user then yields
 * no capability at all (unless the file has file capabilities of its own,
 * as any user may run it with).
 */

/**
 * Empty this process's ambient and inheritable capability sets; the
 * permitted, effective and bounding sets are kept. The kernel always allows
 * lowering these two. 0, or SL_ERR with a sentence in `err`. A kernel
 * without ambient capabilities (before Linux 4.3) has none to clear.
 */
int sl_privs_clear_inheritable(struct sl_strbuf *err);

/** Whether capability `cap` (CAP_SETUID, ...: linux/capability.h) is in the effective set. */
bool sl_privs_effective(int cap);

#endif
