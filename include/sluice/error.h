#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

/**
 * Return codes shared by the library: 0 is success, everything else is
 * negative. The human explanation travels separately, in a strbuf or an
 * sl_diags list supplied by the caller.
 */
enum {
	SL_OK = 0,
	SL_ERR = -1,      /* generic failure; see the message */
	SL_ENOENT = -2,   /* the thing asked for does not exist */
	SL_ETOOBIG = -3,  /* input exceeds a configured limit */
	SL_EINVAL = -4,   /* input is malformed */
	SL_EUNAVAIL = -5, /* a server (database, scheduler) cannot be reached */
	SL_EFENCED = -6,  /* a write refused: the caller no longer holds its lease */
};

#endif
