/* SPDX-License-Identifier: MIT */
/*
 * berthd's HTTP API (docs/api.md): JSON over HTTP/1.1 on a Unix socket,
 * served by libmicrohttpd with one thread per connection, so a slow
 * client or a long stop holds up nobody else. Routes live in one table in
 * api.c; request bodies are capped (413), headers are capped by the
 * connection memory limit, and idle connections time out.
 */
#ifndef BERTH_DAEMON_API_H
#define BERTH_DAEMON_API_H

#include <stddef.h>

#include "daemon/registry.h"

#define API_MAX_BODY	    (64 << 10)
#define API_MAX_DROPPED	    (1 << 20) /* of a body too big, read before the 413 */
#define API_MAX_CONNECTIONS 64
#define API_IDLE_TIMEOUT_S  10
#define API_MAX_PARAM	    64 /* longest {id} path segment */

struct api;

/* Serve the API on listen_fd (a bound, listening Unix socket; the API
 * owns it from now on) for the VMs in r. -errno after one error line. */
int api_start(struct api **out, struct registry *r, int listen_fd)
	__attribute__((warn_unused_result));

/* Stop serving: waits for the requests in progress, closes the socket. */
void api_stop(struct api *a);

/* The route for method and path (without the query): its index, with the
 * {id} segment, if any, in param (param_len >= API_MAX_PARAM + 1).
 * -ENOENT if no route has this path; -EPERM if some do, but not for this
 * method: allow then lists theirs ("GET, POST"). HEAD counts as GET. */
int api_route_find(const char *method, const char *path, char *param,
		   size_t param_len, char *allow, size_t allow_len);

/* The pattern of route i, e.g. "/v1/vms/{id}/start". */
const char *api_route_pattern(int i);

/* The HTTP status for an operation's negative errno. */
int api_status_for(int err);

#endif
