#include "sluice/privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sluice/error.h"
#include "sluice/banned.h"

/*
 * capget/capset through syscall(2): glibc has no wrapper, and libcap (a
 * -dev package more for two calls) would add nothing. Version 3 holds two
 * 32-bit words per set.
 */
static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};

	return (int)syscall(SYS_capget, &hdr, data);
}

static int caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};

	return (int)syscall(SYS_capset, &hdr, data);
}

int sl_privs_clear_inheritable(struct sl_strbuf *err)
{
	struct __user_cap_data_struct data[2];

	/* EINVAL: a kernel without ambient capabilities, so an empty set. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		sl_strbuf_addf(err, "cannot clear the ambient capabilities: %s", strerror(errno));
		return SL_ERR;
	}
	memset(data, 0, sizeof(data));
	if (caps_get(data)) {
		sl_strbuf_addf(err, "cannot read the capabilities: %s", strerror(errno));
		return SL_ERR;
	}
	data[0].inheritable = data[1].inheritable = 0;
	if (caps_set(data)) {
		sl_strbuf_addf(err, "cannot clear the inheritable capabilities: %s",
		               strerror(errno));
		return SL_ERR;
	}
	return 0;
}

bool sl_privs_effective(int cap)
{
	struct __user_cap_data_struct data[2];

	if (cap < 0 || cap > 63)
		return false;
	memset(data, 0, sizeof(data));
	if (caps_get(data))
		return false;
	return data[cap / 32].effective & (1u << (cap % 32));
}
