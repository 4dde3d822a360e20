/* SPDX-License-Identifier: MIT */
#include "client/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "vm/vm.h"

/* Replies bigger than this are cut (console logs are capped at 16 MiB). */
#define REPLY_MAX (32 << 20)

const char *client_socket(const char *path)
{
	const char *env = getenv("BERTH_SOCKET");

	if (path)
		return path;
	return env && *env ? env : CLIENT_DEFAULT_SOCKET;
}

static size_t reply_write(char *data, size_t size, size_t n, void *ctx)
{
	struct http_reply *r = ctx;
	size_t len = size * n;
	char *b;

	if (len > REPLY_MAX - r->len)
		return 0; /* curl then fails the transfer */
	b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, data, len);
	r->len += len;
	b[r->len] = '\0';
	r->body = b;
	return len;
}

static CURL *http_setup(const char *sock, const char *method, const char *url,
			const char *body, struct curl_slist *hdr,
			struct http_reply *reply)
{
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, reply_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	return c;
}

int http_call(const char *sock, const char *method, const char *path,
	      const char *body, struct http_reply *reply)
{
	struct curl_slist *hdr =
		curl_slist_append(NULL, "Content-Type: application/json");
	char url[1024];
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	CURL *c;

	*reply = (struct http_reply){0};
	snprintf(url, sizeof(url), "http://berthd%s", path);
	c = hdr ? http_setup(sock, method, url, body, hdr, reply) : NULL;
	if (c)
		rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (rc == CURLE_COULDNT_CONNECT) {
		pr_err("no berthd answers on %s (start one with berth daemon, "
		       "or use --socket or $BERTH_SOCKET)",
		       sock);
		http_reply_free(reply);
		return -ECONNREFUSED;
	}
	if (rc != CURLE_OK) {
		pr_err("%s %s: %s", method, path, curl_easy_strerror(rc));
		http_reply_free(reply);
		return -EIO;
	}
	if (!reply->body)
		reply->body = calloc(1, 1);
	return reply->body ? 0 : -ENOMEM;
}

void http_reply_free(struct http_reply *reply)
{
	free(reply->body);
	reply->body = NULL;
	reply->len = 0;
}

int client_reply_error(const struct http_reply *r)
{
	struct json_object *o = json_tokener_parse(r->body), *msg, *field;

	if (o && json_object_object_get_ex(o, "error", &msg)) {
		if (json_object_object_get_ex(o, "field", &field))
			pr_err("%s (field %s)", json_object_get_string(msg),
			       json_object_get_string(field));
		else
			pr_err("%s", json_object_get_string(msg));
	} else {
		pr_err("berthd answered %ld", r->status);
	}
	json_object_put(o);
	return r->status < 500 ? BERTH_EXIT_USAGE : CLIENT_EXIT_FAILED;
}

int client_call(const char *sock, const char *method, const char *path,
		const char *body, struct json_object **out)
{
	struct http_reply r;
	int ret = http_call(client_socket(sock), method, path, body, &r);

	if (ret)
		return ret == -ECONNREFUSED ? BERTH_EXIT_HOST
					    : CLIENT_EXIT_FAILED;
	if (r.status >= 300) {
		ret = client_reply_error(&r);
	} else if (out) {
		*out = json_tokener_parse(r.body);
		if (!*out) {
			pr_err("berthd's reply is not JSON");
			ret = CLIENT_EXIT_FAILED;
		}
	}
	http_reply_free(&r);
	return ret;
}
