/* SPDX-License-Identifier: MIT */
/* The client side of berthd's API: one HTTP request over its Unix socket
 * (libcurl), and the daemon's answer. */
#ifndef BERTH_CLIENT_HTTP_H
#define BERTH_CLIENT_HTTP_H

#include <json-c/json.h>
#include <stddef.h>

#define CLIENT_DEFAULT_SOCKET "/run/berth/berthd.sock"
#define CLIENT_EXIT_FAILED    1 /* berthd failed (5xx), or its reply */

struct http_reply {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
};

/* The socket to use: path if not NULL, else $BERTH_SOCKET, else the
 * default berthd listens on. */
const char *client_socket(const char *path);

/* Send method path (with any query) to berthd at sock, with body (JSON;
 * NULL: none). 0 and *reply (free with http_reply_free), or -ECONNREFUSED
 * when no berthd answers there, -EIO otherwise; both after one error
 * line. */
int http_call(const char *sock, const char *method, const char *path,
	      const char *body, struct http_reply *reply)
	__attribute__((warn_unused_result));

/* Free what reply holds. */
void http_reply_free(struct http_reply *reply);

/* Print an error reply's message as one line; the exit status it means:
 * 2 (BERTH_EXIT_USAGE) for 4xx, CLIENT_EXIT_FAILED otherwise. */
int client_reply_error(const struct http_reply *r);

/* Call berthd at client_socket(sock). 0 with *out the reply's JSON (if out
 * is not NULL; the caller puts it), or the exit status the failure means:
 * 2 refused (4xx), 6 no berthd, 1 anything else; after one error line. */
int client_call(const char *sock, const char *method, const char *path,
		const char *body, struct json_object **out)
	__attribute__((warn_unused_result));

#endif
