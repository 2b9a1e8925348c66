#ifndef SLUICE_SDNOTIFY_H
#define SLUICE_SDNOTIFY_H

#ifndef SLUICE_LAYER_EXEC
#error "sluice/sdnotify.h: this target does not link the exec layer (docs/architecture.md)"
#endif

#include <uv.h>

/**
 * systemd notification for the daemons (Type=notify units). Built without
 * libsystemd, both functions do nothing, so a daemon runs the same outside
 * systemd.
 */

/** Send a state string ("READY=1", "STOPPING=1", "WATCHDOG=1"). */
void sl_sdnotify(const char *state);

/**
 * When the unit has a watchdog (WatchdogSec), start `timer` (initialised
 * on the daemon's loop; the daemon closes it) to send WATCHDOG=1 twice per
 * period, as sd_watchdog_enabled(3) recommends. Returns 0, or a libuv
 * error code from starting the timer.
 */
int sl_sdnotify_watchdog_start(uv_timer_t *timer);

#endif
