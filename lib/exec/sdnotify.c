#include "sluice/sdnotify.h"

#include <inttypes.h>
#include <stdint.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "sluice/log.h"
#include "sluice/banned.h"

void sl_sdnotify(const char *state)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, state);
#else
	(void)state;
#endif
}

static void on_watchdog(uv_timer_t *timer)
{
	(void)timer;
	sl_sdnotify("WATCHDOG=1");
}

int sl_sdnotify_watchdog_start(uv_timer_t *timer)
{
#ifdef HAVE_SYSTEMD
	uint64_t usec = 0, ms;
	int rc;

	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return 0;
	ms = usec / 2000 ? usec / 2000 : 1;
	rc = uv_timer_start(timer, on_watchdog, ms, ms);
	if (rc)
		sl_log("error", "timer_failed", "what=watchdog error=\"%s\"", uv_strerror(rc));
	else
		sl_log("info", "watchdog", "interval_ms=%" PRIu64, ms);
	return rc;
#else
	(void)timer;
	(void)on_watchdog;
	return 0;
#endif
}
