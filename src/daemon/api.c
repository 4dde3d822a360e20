/* SPDX-License-Identifier: MIT */
#include "daemon/api.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/dlog.h"
#include "daemon/metrics.h"
#include "daemon/usage.h"
#include "daemon/registry_int.h"

struct api {
	struct MHD_Daemon *mhd;
	struct registry *reg;
};

/* One request as a route handler sees it, and what it answers. */
struct api_call {
	struct api *api;
	struct MHD_Connection *conn;
	const char *param; /* the {id} segment */
	const char *body;
	size_t len;
	/* out: status and json (or text, or err) */
	int status;
	struct json_object *json;
	char *text;
	const char *text_type; /* NULL: text/plain */
	size_t text_len;
	struct field_error err;
};

/* Per request, across the access handler's calls. */
struct api_req {
	char *body;
	size_t len;
	size_t dropped; /* bytes past API_MAX_BODY */
	bool too_big, answered;
};

/* Returns 0 with c->status and c->json (or c->text) set, or a negative
 * errno with c->err set. */
typedef int (*route_fn)(struct api_call *c);

struct api_route {
	const char *method;
	const char *pattern; /* "{id}" matches one path segment */
	const char *query; /* the query parameters it takes ("a,b"), or NULL */
	route_fn fn;
};

/* ---- handlers -------------------------------------------------------------- */

/* Bodies of requests that take none must be empty or an empty object. */
static int want_no_body(struct api_call *c)
{
	struct json_object *o;
	int ret;

	if (!c->len)
		return 0;
	ret = json_body_parse(c->body, c->len, &o, &c->err);
	if (!ret && !json_object_is_type(o, json_type_object))
		ret = field_error_set(&c->err, "",
				      "this request takes no body (or {})");
	if (!ret) {
		json_object_object_foreach(o, key, v)
		{
			(void)v;
			ret = field_error_set(&c->err, key,
					      "unknown field %.64s: this "
					      "request takes no body",
					      key);
			break;
		}
	}
	json_object_put(o);
	return ret;
}

static int h_health(struct api_call *c)
{
	c->json = reg_health(c->api->reg);
	return 0;
}

static int h_list(struct api_call *c)
{
	c->json = json_object_new_object();
	json_object_object_add(c->json, "vms", reg_list(c->api->reg));
	return 0;
}

static int h_create(struct api_call *c)
{
	c->status = MHD_HTTP_CREATED;
	return reg_create(c->api->reg, c->body, c->len, &c->json, &c->err);
}

static int h_inspect(struct api_call *c)
{
	return reg_inspect(c->api->reg, c->param, &c->json, &c->err);
}

/* A boolean query parameter: absent, 0/false or 1/true. */
static int query_bool(struct api_call *c, const char *key, bool *out)
{
	const char *v = MHD_lookup_connection_value(c->conn,
						    MHD_GET_ARGUMENT_KIND, key);

	*out = false;
	if (!v)
		return 0;
	if (!strcmp(v, "1") || !strcmp(v, "true") || !*v)
		*out = true;
	else if (strcmp(v, "0") && strcmp(v, "false"))
		return field_error_set(&c->err, key,
				       "%s must be 1, true, 0 or false", key);
	return 0;
}

static int h_delete(struct api_call *c)
{
	char id[VM_ID_LEN + 1];
	bool force;
	int ret = query_bool(c, "force", &force);

	if (!ret)
		ret = want_no_body(c);
	if (!ret)
		ret = reg_delete(c->api->reg, c->param, force, id, &c->err);
	if (!ret) {
		c->json = json_object_new_object();
		json_object_object_add(c->json, "id",
				       json_object_new_string(id));
		json_object_object_add(c->json, "deleted",
				       json_object_new_boolean(1));
	}
	return ret;
}

static int h_start(struct api_call *c)
{
	int ret = want_no_body(c);

	return ret ? ret : reg_start(c->api->reg, c->param, &c->json, &c->err);
}

static int stop_field(const char *key, struct json_object *v, unsigned *timeout,
		      bool *force, struct field_error *err)
{
	int64_t n;

	if (!strcmp(key, "force")) {
		if (!json_object_is_type(v, json_type_boolean))
			return field_error_set(err, key,
					       "force must be true or false");
		*force = json_object_get_boolean(v);
		return 0;
	}
	if (strcmp(key, "timeout_s"))
		return field_error_set(err, key,
				       "unknown field %.64s (stop takes "
				       "timeout_s and force)",
				       key);
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int))
		return field_error_set(err, key,
				       "timeout_s must be an integer");
	if (n < 0 || n > REG_STOP_TIMEOUT_MAX)
		return field_error_set(err, key,
				       "timeout_s must be from 0 to %d",
				       REG_STOP_TIMEOUT_MAX);
	*timeout = (unsigned)n;
	return 0;
}

static int h_stop(struct api_call *c)
{
	unsigned timeout = REG_STOP_TIMEOUT_S;
	struct json_object *o = NULL;
	bool force = false;
	int ret = 0;

	if (c->len)
		ret = json_body_parse(c->body, c->len, &o, &c->err);
	if (!ret && o && !json_object_is_type(o, json_type_object))
		ret = field_error_set(&c->err, "",
				      "the body must be a JSON object");
	if (!ret && o) {
		json_object_object_foreach(o, key, v)
		{
			ret = stop_field(key, v, &timeout, &force, &c->err);
			if (ret)
				break;
		}
	}
	json_object_put(o);
	if (!ret)
		ret = reg_stop(c->api->reg, c->param, timeout, force, &c->json,
			       &c->err);
	return ret;
}

static int h_pause(struct api_call *c)
{
	int ret = want_no_body(c);

	return ret ? ret
		   : reg_pause(c->api->reg, c->param, true, &c->json, &c->err);
}

static int h_resume(struct api_call *c)
{
	int ret = want_no_body(c);

	return ret ? ret
		   : reg_pause(c->api->reg, c->param, false, &c->json, &c->err);
}

static int h_console(struct api_call *c)
{
	const char *v = MHD_lookup_connection_value(
		c->conn, MHD_GET_ARGUMENT_KIND, "tail");
	unsigned long long tail = REG_CONSOLE_TAIL;
	char *end;

	if (v) {
		errno = 0;
		tail = strtoull(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno || tail < 1 ||
		    tail > REG_CONSOLE_MAX)
			return field_error_set(&c->err, "tail",
					       "tail must be a number of bytes "
					       "from 1 to %d",
					       REG_CONSOLE_MAX);
	}
	return reg_console(c->api->reg, c->param, tail, &c->text, &c->text_len,
			   &c->err);
}

static int h_stats(struct api_call *c)
{
	return reg_stats(c->api->reg, c->param, &c->json, &c->err);
}

static int h_metrics(struct api_call *c)
{
	int ret = reg_metrics(c->api->reg, &c->text, &c->text_len);

	c->text_type = PROM_CONTENT_TYPE;
	if (ret)
		return reg_error(&c->err, ret, "out of memory");
	return 0;
}

static const char *query_value(struct api_call *c, const char *key)
{
	return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key);
}

static int h_usage(struct api_call *c)
{
	struct usage_query q;
	int ret =
		usage_query_parse(&q, query_value(c, "since"),
				  query_value(c, "until"), query_value(c, "vm"),
				  query_value(c, "records"), now_ms(), &c->err);

	return ret ? ret : reg_usage(c->api->reg, &q, &c->json, &c->err);
}

/*
 * The routes. To add one, add a line and a handler above; the router
 * answers 404 for paths no line has and 405 (with Allow) for methods a
 * path does not take.
 */
static const struct api_route routes[] = {
	{"GET", "/v1/health", NULL, h_health},
	{"GET", "/v1/vms", NULL, h_list},
	{"POST", "/v1/vms", NULL, h_create},
	{"GET", "/v1/vms/{id}", NULL, h_inspect},
	{"DELETE", "/v1/vms/{id}", "force", h_delete},
	{"POST", "/v1/vms/{id}/start", NULL, h_start},
	{"POST", "/v1/vms/{id}/stop", NULL, h_stop},
	{"POST", "/v1/vms/{id}/pause", NULL, h_pause},
	{"POST", "/v1/vms/{id}/resume", NULL, h_resume},
	{"GET", "/v1/vms/{id}/console", "tail", h_console},
	{"GET", "/v1/vms/{id}/stats", NULL, h_stats},
	{"GET", "/v1/usage", "since,until,vm,records", h_usage},
	{"GET", "/metrics", NULL, h_metrics},
};

#define NR_ROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

/* ---- routing ------------------------------------------------------------ */

/* Does path match pattern? The {id} segment goes to param. */
static bool path_matches(const char *pattern, const char *path, char *param,
			 size_t len)
{
	while (*pattern && *path) {
		if (!strncmp(pattern, "{id}", 4)) {
			size_t n = strcspn(path, "/");

			if (!n || n > API_MAX_PARAM || n >= len)
				return false;
			memcpy(param, path, n);
			param[n] = '\0';
			pattern += 4;
			path += n;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

int api_route_find(const char *method, const char *path, char *param,
		   size_t param_len, char *allow, size_t allow_len)
{
	const char *m = strcmp(method, "HEAD") ? method : "GET";
	size_t off = 0;
	int found = -ENOENT;

	allow[0] = '\0';
	param[0] = '\0';
	for (int i = 0; i < NR_ROUTES; i++) {
		if (!path_matches(routes[i].pattern, path, param, param_len))
			continue;
		if (!strcmp(routes[i].method, m))
			return i;
		found = -EPERM;
		if (off < allow_len)
			off += (size_t)snprintf(allow + off, allow_len - off,
						"%s%s", off ? ", " : "",
						routes[i].method);
	}
	return found;
}

const char *api_route_pattern(int i)
{
	return i >= 0 && i < NR_ROUTES ? routes[i].pattern : NULL;
}

int api_status_for(int err)
{
	switch (err) {
	case -ENOENT:
		return MHD_HTTP_NOT_FOUND;
	case -EINVAL:
		return MHD_HTTP_BAD_REQUEST;
	case -EEXIST:
	case -EBUSY:
	case -ENOSPC:
		return MHD_HTTP_CONFLICT;
	case -EMSGSIZE:
		return MHD_HTTP_CONTENT_TOO_LARGE;
	default:
		return MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
}

/* ---- responses ------------------------------------------------------------- */

static enum MHD_Result send_buffer(struct MHD_Connection *conn, int status,
				   const char *type, char *buf, size_t len,
				   const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, buf, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Send o (and put it) as the body, pretty, with a final newline. */
static enum MHD_Result send_json(struct MHD_Connection *conn, int status,
				 struct json_object *o, const char *allow)
{
	const char *s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			   JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(s);
	char *buf = malloc(n + 2);

	if (buf) {
		memcpy(buf, s, n);
		buf[n++] = '\n';
	}
	json_object_put(o);
	if (!buf)
		return MHD_NO;
	return send_buffer(conn, status, "application/json", buf, n, allow);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, int status,
				  const struct field_error *err,
				  const char *allow)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(err->msg));
	if (err->field[0])
		json_object_object_add(o, "field",
				       json_object_new_string(err->field));
	return send_json(conn, status, o, allow);
}

static enum MHD_Result send_message(struct MHD_Connection *conn, int status,
				    const char *allow, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum MHD_Result send_message(struct MHD_Connection *conn, int status,
				    const char *allow, const char *fmt, ...)
{
	struct field_error err = {0};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
	va_end(ap);
	return send_error(conn, status, &err, allow);
}

/* ---- requests -------------------------------------------------------------- */

struct query_check {
	const char *allowed;
	char bad[API_MAX_PARAM + 1];
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind,
				 const char *key, const char *value)
{
	struct query_check *q = cls;
	size_t n = strlen(key);

	(void)kind;
	(void)value;
	/* q->allowed is a list: "since,until,vm". */
	for (const char *p = q->allowed; p && n; p = strchr(p, ',')) {
		p += *p == ',';
		if (!strncmp(p, key, n) && (p[n] == ',' || !p[n]))
			return MHD_YES;
	}
	snprintf(q->bad, sizeof(q->bad), "%s", key);
	return MHD_NO;
}

static void log_request(struct api_call *c, const char *method, const char *url)
{
	if (c->status >= 500)
		dlog(LOG_ERR, "%s %s: %d %s", method, url, c->status,
		     c->err.msg);
	else
		dlog(LOG_DEBUG, "%s %s: %d", method, url, c->status);
}

static enum MHD_Result dispatch(struct api *a, struct MHD_Connection *conn,
				const char *url, const char *method,
				struct api_req *q)
{
	struct api_call c = {.api = a, .conn = conn, .status = MHD_HTTP_OK};
	char param[API_MAX_PARAM + 1], allow[64];
	struct query_check qc = {0};
	int i = api_route_find(method, url, param, sizeof(param), allow,
			       sizeof(allow));
	int ret;

	if (i == -ENOENT)
		return send_message(conn, MHD_HTTP_NOT_FOUND, NULL,
				    "no such route: %.64s (see docs/api.md)",
				    url);
	if (i < 0)
		return send_message(conn, MHD_HTTP_METHOD_NOT_ALLOWED, allow,
				    "%.16s is not allowed on %.64s (only %s)",
				    method, url, allow);
	qc.allowed = routes[i].query;
	if (MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg,
				      &qc) < 0 ||
	    qc.bad[0]) {
		field_error_set(&c.err, qc.bad, "unknown query parameter %s",
				qc.bad);
		return send_error(conn, MHD_HTTP_BAD_REQUEST, &c.err, NULL);
	}
	c.param = param;
	c.body = q->body ? q->body : "";
	c.len = q->len;
	ret = routes[i].fn(&c);
	if (ret)
		c.status = api_status_for(ret);
	log_request(&c, method, url);
	if (ret)
		return send_error(conn, c.status, &c.err, NULL);
	if (c.text)
		return send_buffer(conn, c.status,
				   c.text_type ? c.text_type : "text/plain",
				   c.text, c.text_len, NULL);
	return send_json(conn, c.status, c.json, NULL);
}

/* Keep at most API_MAX_BODY bytes of the body: -EMSGSIZE (and the body
 * dropped) once it is more, -ENOMEM. */
static int body_append(struct api_req *q, const char *data, size_t n)
{
	char *b;

	if (q->too_big || n > API_MAX_BODY - q->len) {
		free(q->body);
		q->body = NULL;
		q->too_big = true;
		return -EMSGSIZE;
	}
	b = realloc(q->body, q->len + n + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b + q->len, data, n);
	q->len += n;
	b[q->len] = '\0';
	q->body = b;
	return 0;
}

/* libmicrohttpd calls this once when the headers are in, once per piece of
 * body, and once more at the end: only then is the request served. */
static enum MHD_Result api_access(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api_req *q = *con_cls;
	const char *cl;

	(void)version;
	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		/* A body announced too big: one we can afford to read is read
		 * and dropped, then refused (answering while the client still
		 * sends makes it see a reset, not the 413); a bigger one is
		 * refused before it is sent. */
		if (cl && strtoull(cl, NULL, 10) > API_MAX_DROPPED) {
			q->too_big = q->answered = true;
			return send_message(conn, MHD_HTTP_CONTENT_TOO_LARGE,
					    NULL,
					    "the body is larger than %d bytes",
					    API_MAX_BODY);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		int ret = body_append(q, upload, n);

		*upload_size = 0;
		if (ret != -EMSGSIZE)
			return ret ? MHD_NO : MHD_YES;
		/* Too big: libmicrohttpd cannot answer before the body ends,
		 * so drop it until then (413 below); a body that goes on and
		 * on gets its connection closed instead. */
		q->dropped += n;
		return q->dropped <= API_MAX_DROPPED ? MHD_YES : MHD_NO;
	}
	if (q->too_big && q->answered)
		return MHD_YES;
	if (q->too_big)
		return send_message(conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
				    "the body is larger than %d bytes",
				    API_MAX_BODY);
	return dispatch(cls, conn, url, method, q);
}

static void api_completed(void *cls, struct MHD_Connection *conn,
			  void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct api_req *q = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (q) {
		free(q->body);
		free(q);
	}
	*con_cls = NULL;
}

static void api_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	dlog(LOG_DEBUG, "http: %s", line);
}

int api_start(struct api **out, struct registry *r, int listen_fd)
{
	struct api *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a) {
		close(listen_fd);
		return -ENOMEM;
	}
	a->reg = r;
	a->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD |
			MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			MHD_USE_ITC | MHD_USE_ERROR_LOG,
		0, NULL, NULL, api_access, a, MHD_OPTION_EXTERNAL_LOGGER,
		api_log, NULL, MHD_OPTION_LISTEN_SOCKET, listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_IDLE_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 << 10),
		MHD_OPTION_NOTIFY_COMPLETED, api_completed, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, api_log, NULL, MHD_OPTION_END);
	if (!a->mhd) {
		dlog(LOG_ERR, "cannot start the HTTP server (libmicrohttpd)");
		close(listen_fd);
		free(a);
		return -EIO;
	}
	*out = a;
	return 0;
}

void api_stop(struct api *a)
{
	MHD_socket fd;

	if (!a)
		return;
	/* Quiesced, MHD hands the socket back instead of closing it, so it
	 * is closed exactly once, here. */
	fd = MHD_quiesce_daemon(a->mhd);
	MHD_stop_daemon(a->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	free(a);
}
