/* SPDX-License-Identifier: MIT */
#include "host/cgroup.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

/* Cgroups belong to root unless a subtree was delegated to the user. */
static const char *perm_hint(int err)
{
	return err == EACCES || err == EPERM
		       ? " (need root or a delegated subtree)"
		       : "";
}

static int join_path(char *out, size_t size, const char *dir, const char *file)
{
	int n = snprintf(out, size, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Read a small file into buf, NUL-terminated; -errno, without a log line. */
static int read_path(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return 0;
}

static int read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];

	if (join_path(path, sizeof(path), dir, file))
		return -ENAMETOOLONG;
	return read_path(path, buf, size);
}

/* Write val to the control file dir/file in one write(), as cgroupfs
 * wants; logs and returns -errno. */
static int write_file(const char *dir, const char *file, const char *val)
{
	size_t len = strlen(val);
	char path[PATH_MAX];
	int fd, err = 0;
	ssize_t n;

	if (join_path(path, sizeof(path), dir, file)) {
		pr_err("cgroup: path too long: %s/%s", dir, file);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
	} else {
		n = write(fd, val, len);
		if (n < 0)
			err = errno;
		else if ((size_t)n != len)
			err = EIO;
		if (close(fd) && !err)
			err = errno;
	}
	if (err)
		pr_err("cgroup: cannot write '%s' to %s: %s%s", val, path,
		       strerror(err), perm_hint(err));
	return -err;
}

/* True if word is one of the tokens of s[0..len) split at any of seps. */
static bool list_has(const char *s, size_t len, const char *word,
		     const char *seps)
{
	size_t wl = strlen(word), i = 0;

	while (i < len) {
		size_t n = 0;

		while (i + n < len && !strchr(seps, s[i + n]))
			n++;
		if (n == wl && !memcmp(s + i, word, wl))
			return true;
		i += n + 1;
	}
	return false;
}

/* True if the cgroup v2 directory lists cpu in file (cgroup.controllers:
 * available; cgroup.subtree_control: enabled for the children). */
static bool v2_lists_cpu(const char *dir, const char *file)
{
	char buf[1024];

	return !read_file(dir, file, buf, sizeof(buf)) &&
	       list_has(buf, strlen(buf), "cpu", " \t\n");
}

int cgroup_detect(struct cgroup *cg, const char *fsroot)
{
	static const char *const v2[] = {"", "/unified"};
	static const char *const v1[] = {"/cpu", "/cpu,cpuacct"};
	char path[PATH_MAX];

	memset(cg, 0, sizeof(*cg));
	cg->self = CGROUP_SELF;
	for (unsigned i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		snprintf(cg->root, sizeof(cg->root), "%s%s", fsroot, v2[i]);
		if (v2_lists_cpu(cg->root, "cgroup.controllers")) {
			cg->version = CGROUP_V2;
			return 0;
		}
	}
	for (unsigned i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		snprintf(cg->root, sizeof(cg->root), "%s%s", fsroot, v1[i]);
		if (!join_path(path, sizeof(path), cg->root, "cpu.shares") &&
		    !access(path, F_OK)) {
			cg->version = CGROUP_V1;
			return 0;
		}
	}
	cg->root[0] = '\0';
	pr_err("cgroup: no cpu controller mounted (neither cgroup v2 with cpu "
	       "nor v1 cpu) under %s",
	       fsroot);
	return -ENODEV;
}

bool cgroup_name_valid(const char *name)
{
	const char *c = name;

	if (!name || !*name || strlen(name) > CGROUP_NAME_MAX)
		return false;
	for (const char *p = name;; p++) {
		if (*p == '/' || !*p) {
			size_t n = (size_t)(p - c);

			if (!n || (n == 1 && c[0] == '.') ||
			    (n == 2 && !strncmp(c, "..", 2)))
				return false;
			if (!*p)
				return true;
			c = p + 1;
		} else if (!isalnum((unsigned char)*p) && !strchr("._-", *p)) {
			return false;
		}
	}
}

unsigned cgroup_v1_shares(unsigned weight)
{
	unsigned shares = weight * 1024 / 100;

	return shares < 2 ? 2 : shares;
}

/* On v2 a parent must enable cpu for its children before they have
 * cpu.weight and cpu.max. */
static int v2_enable_cpu(const char *dir)
{
	if (v2_lists_cpu(dir, "cgroup.subtree_control"))
		return 0;
	return write_file(dir, "cgroup.subtree_control", "+cpu");
}

static int make_dir(const char *path, bool *made)
{
	int err;

	*made = false;
	if (!mkdir(path, 0755)) {
		*made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	err = errno;
	pr_err("cgroup: cannot create %s: %s%s", path, strerror(err),
	       perm_hint(err));
	return -err;
}

int cgroup_open(struct cgroup *cg, const char *name)
{
	size_t len = strlen(cg->root);
	bool made = false;
	int ret;

	if (!cgroup_name_valid(name)) {
		pr_err("cgroup: '%s' is not a relative cgroup name", name);
		return -EINVAL;
	}
	if (len + 1 + strlen(name) >= sizeof(cg->dir)) {
		pr_err("cgroup: path too long: %s/%s", cg->root, name);
		return -ENAMETOOLONG;
	}
	memcpy(cg->dir, cg->root, len + 1);
	for (const char *p = name; *p;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (cg->version == CGROUP_V2) {
			ret = v2_enable_cpu(cg->dir);
			if (ret)
				return ret;
		}
		cg->dir[len++] = '/';
		memcpy(cg->dir + len, p, n);
		len += n;
		cg->dir[len] = '\0';
		ret = make_dir(cg->dir, &made);
		if (ret)
			return ret;
		p += slash ? n + 1 : n;
	}
	cg->created = made; /* of the last component: the VM's own */
	return 0;
}

int cgroup_set_cpu(struct cgroup *cg, unsigned weight, unsigned cap_milli)
{
	unsigned long long quota =
		(unsigned long long)cap_milli * CGROUP_PERIOD_US / 1000;
	bool v2 = cg->version == CGROUP_V2;
	char val[64];
	int ret = 0;

	if (weight) {
		snprintf(val, sizeof(val), "%u",
			 v2 ? weight : cgroup_v1_shares(weight));
		ret = write_file(cg->dir, v2 ? "cpu.weight" : "cpu.shares",
				 val);
	}
	if (ret || !cap_milli)
		return ret;
	if (v2) {
		snprintf(val, sizeof(val), "%llu %u", quota, CGROUP_PERIOD_US);
		return write_file(cg->dir, "cpu.max", val);
	}
	snprintf(val, sizeof(val), "%u", CGROUP_PERIOD_US);
	ret = write_file(cg->dir, "cpu.cfs_period_us", val);
	if (!ret) {
		snprintf(val, sizeof(val), "%llu", quota);
		ret = write_file(cg->dir, "cpu.cfs_quota_us", val);
	}
	return ret;
}

/* Is the line "ID:CONTROLLERS:PATH" (c1, c2 at the colons) the one for
 * the cpu hierarchy of version v? */
static bool self_line_matches(enum cgroup_version v, const char *line,
			      const char *c1, const char *c2)
{
	if (v == CGROUP_V2)
		return c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
	return list_has(c1 + 1, (size_t)(c2 - c1 - 1), "cpu", ",");
}

int cgroup_parse_self(enum cgroup_version v, const char *text, char *out,
		      size_t size)
{
	const char *line = text;

	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *c1 = memchr(line, ':', (size_t)(end - line));
		const char *c2 =
			c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;

		if (c2 && self_line_matches(v, line, c1, c2)) {
			size_t n = (size_t)(end - c2 - 1);

			if (n + 1 > size)
				return -ENAMETOOLONG;
			memcpy(out, c2 + 1, n);
			out[n] = '\0';
			return 0;
		}
		line = *end ? end + 1 : end;
	}
	return -ENOENT;
}

int cgroup_enter(struct cgroup *cg, pid_t pid)
{
	char text[4096], path[PATH_MAX], val[24];
	int ret, n;

	ret = read_path(cg->self, text, sizeof(text));
	if (ret) {
		pr_err("cgroup: cannot read %s: %s", cg->self, strerror(-ret));
		return ret;
	}
	ret = cgroup_parse_self(cg->version, text, path, sizeof(path));
	if (ret) {
		pr_err("cgroup: %s names no cgroup v%d cpu hierarchy", cg->self,
		       cg->version);
		return ret;
	}
	n = snprintf(cg->home, sizeof(cg->home), "%s%s", cg->root, path);
	if (n < 0 || (size_t)n >= sizeof(cg->home))
		return -ENAMETOOLONG;
	snprintf(val, sizeof(val), "%d", (int)pid);
	ret = write_file(cg->dir, "cgroup.procs", val);
	if (!ret)
		cg->entered = true;
	return ret;
}

void cgroup_leave(struct cgroup *cg, pid_t pid)
{
	char val[24];

	if (cg->entered) {
		snprintf(val, sizeof(val), "%d", (int)pid);
		/* Still inside: the cgroup cannot be removed either. */
		if (write_file(cg->home, "cgroup.procs", val))
			return;
		cg->entered = false;
	}
	if (cg->created) {
		if (rmdir(cg->dir) && errno != ENOENT)
			pr_warn("cgroup: cannot remove %s: %s", cg->dir,
				strerror(errno));
		cg->created = false;
	}
}

int cgroup_join(struct cgroup *cg, const char *fsroot, const char *name,
		unsigned weight, unsigned cap_milli)
{
	char def[32], w[16] = "unchanged", cap[32] = "unchanged";
	int ret;

	if (!name) {
		snprintf(def, sizeof(def), "berth/vm-%d", (int)getpid());
		name = def;
	}
	ret = cgroup_detect(cg, fsroot);
	if (!ret)
		ret = cgroup_open(cg, name);
	if (!ret)
		ret = cgroup_set_cpu(cg, weight, cap_milli);
	if (!ret)
		ret = cgroup_enter(cg, getpid());
	if (ret) {
		cgroup_leave(cg, getpid());
		return ret;
	}
	if (weight)
		snprintf(w, sizeof(w), "%u", weight);
	if (cap_milli)
		snprintf(cap, sizeof(cap), "%u.%03u CPUs", cap_milli / 1000,
			 cap_milli % 1000);
	pr_info("cgroup v%d %s: weight %s, cap %s", cg->version, cg->dir, w,
		cap);
	return 0;
}
