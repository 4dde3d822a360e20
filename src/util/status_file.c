/* SPDX-License-Identifier: MIT */
#include "util/status_file.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

#define STATUS_FILE_MAX 4096

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int status_file_write(const char *path, int status, const char *reason)
{
	struct json_object *o = json_object_new_object();
	char tmp[PATH_MAX];
	const char *s;
	int fd, ret;

	json_object_object_add(o, "exit_status", json_object_new_int(status));
	json_object_object_add(o, "reason",
			       json_object_new_string(reason ? reason : ""));
	s = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)
		      ? -ENAMETOOLONG
		      : 0;
	fd = ret ? -1
		 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!ret && fd < 0)
		ret = -errno;
	if (!ret)
		ret = write_all(fd, s, strlen(s));
	if (!ret)
		ret = write_all(fd, "\n", 1);
	if (fd >= 0 && close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		pr_err("--status-file: cannot write %s: %s", path,
		       strerror(-ret));
	json_object_put(o);
	return ret;
}

/* Parse the file's one JSON object. */
static int status_parse(const char *text, int *status, char *reason, size_t len)
{
	struct json_object *o = json_tokener_parse(text), *st, *why;
	int ret = -EINVAL;

	if (o && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "exit_status", &st) &&
	    json_object_is_type(st, json_type_int)) {
		*status = json_object_get_int(st);
		snprintf(reason, len, "%s",
			 json_object_object_get_ex(o, "reason", &why) &&
					 json_object_is_type(why,
							     json_type_string)
				 ? json_object_get_string(why)
				 : "");
		ret = 0;
	}
	json_object_put(o);
	return ret;
}

int status_file_read(const char *path, int *status, char *reason, size_t len)
{
	char text[STATUS_FILE_MAX];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	text[n] = '\0';
	return status_parse(text, status, reason, len);
}
