/* SPDX-License-Identifier: MIT */
/* Error numbers for the guest kit's drivers: functions that can fail
 * return one of these negated (Linux values, so they read familiarly). */
#ifndef GUEST_ERR_H
#define GUEST_ERR_H

#define EIO	   5
#define ENOMEM	   12
#define EBUSY	   16
#define ENODEV	   19
#define EINVAL	   22
#define ENOSPC	   28
#define EPROTO	   71
#define EOPNOTSUPP 95
#define ETIMEDOUT  110

#define __must_check __attribute__((warn_unused_result))

/* A short name for -error ("EIO"), for messages. */
static inline const char *err_name(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return "ok";
	case EIO:
		return "EIO";
	case ENOMEM:
		return "ENOMEM";
	case EBUSY:
		return "EBUSY";
	case ENODEV:
		return "ENODEV";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case EPROTO:
		return "EPROTO";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	case ETIMEDOUT:
		return "ETIMEDOUT";
	}
	return "error";
}

#endif
