/* SPDX-License-Identifier: MIT */
/*
 * berth run's control socket: the requests against a VM that has no vCPUs
 * running (pause and resume still go through the real code), and the
 * socket itself: several requests per connection, bad input, stale and
 * occupied paths.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/control.h"
#include "lib/test_util.h"

struct fx {
	struct vm vm;
	struct control ctl;
	char dir[64], path[96];
	char reply[65536];
};

static void noop_reset(void *ctx)
{
	(void)ctx;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	pthread_mutex_init(&f->vm.pause_lock, NULL);
	pthread_cond_init(&f->vm.pause_cond, NULL);
	f->vm.stop_fd = eventfd(0, EFD_CLOEXEC);
	i8042_init(&f->vm.i8042, noop_reset, NULL, NULL);
	f->ctl.t = (struct control_target){.vm = &f->vm,
					   .kernel = "guest.elf",
					   .mem = 64 << 20,
					   .cpus = 1};
	strcpy(f->dir, "/tmp/berth-ctl-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/ctl.sock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->vm.stop_fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *ask(struct fx *f, const char *line)
{
	control_handle(&f->ctl, line, f->reply, sizeof(f->reply));
	return f->reply;
}

static void test_status(void **state)
{
	struct fx *f = *state;
	const char *r = ask(f, "{\"cmd\":\"status\"}");

	assert_non_null(strstr(r, "\"ok\":true"));
	assert_non_null(strstr(r, "\"state\":\"running\""));
	assert_non_null(strstr(r, "\"mem_bytes\":67108864"));
	assert_non_null(strstr(r, "\"kernel\":\"guest.elf\""));
	assert_null(strchr(r, '\n'));
}

static void test_stats(void **state)
{
	struct fx *f = *state;
	const char *r = ask(f, "{\"cmd\":\"stats\"}");

	assert_non_null(strstr(r, "\"cpu_user_ns\":"));
	assert_non_null(strstr(r, "\"rss_bytes\":"));
	assert_non_null(strstr(r, "\"disks\":[]"));
	assert_non_null(strstr(r, "\"nics\":[]"));
	assert_non_null(strstr(r, "\"ok\":true"));
}

static void test_pause_resume(void **state)
{
	struct fx *f = *state;

	assert_non_null(strstr(ask(f, "{\"cmd\":\"pause\"}"), "\"paused\""));
	assert_true(vm_paused(&f->vm));
	assert_non_null(strstr(ask(f, "{\"cmd\":\"status\"}"), "\"paused\""));
	assert_non_null(
		strstr(ask(f, "{\"cmd\":\"shutdown\"}"), "resume it first"));
	assert_non_null(strstr(ask(f, "{\"cmd\":\"resume\"}"), "\"running\""));
	assert_false(vm_paused(&f->vm));
}

/* Ctrl-Alt-Del on the keyboard; refused while the guest leaves earlier
 * presses unread. */
static void test_shutdown(void **state)
{
	struct fx *f = *state;

	assert_non_null(
		strstr(ask(f, "{\"cmd\":\"shutdown\"}"), "\"ok\":true"));
	assert_int_equal(f->vm.i8042.count, 8);
	assert_non_null(
		strstr(ask(f, "{\"cmd\":\"shutdown\"}"), "\"ok\":true"));
	assert_non_null(strstr(ask(f, "{\"cmd\":\"shutdown\"}"),
			       "not reading its keyboard"));
}

static void test_quit(void **state)
{
	struct fx *f = *state;

	assert_non_null(strstr(ask(f, "{\"cmd\":\"quit\"}"), "\"ok\":true"));
	assert_true(atomic_load(&f->vm.stopping));
	assert_int_equal(f->vm.exit_status, 0);
	assert_non_null(strstr(ask(f, "{\"cmd\":\"pause\"}"), "stopping"));
}

static void test_bad_requests(void **state)
{
	static const char *bad[] = {
		"",
		"garbage",
		"[1,2]",
		"{\"cmd\":3}",
		"{\"nocmd\":\"status\"}",
		"{\"cmd\":\"status\"",
		"\"status\"",
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(strstr(ask(f, bad[i]), "\"ok\":false"));
	assert_non_null(strstr(ask(f, "{\"cmd\":\"reboot\"}"), "unknown cmd"));
	assert_false(atomic_load(&f->vm.stopping));
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read until n newlines arrived (or EOF); returns the bytes read. */
static size_t read_lines(int fd, char *buf, size_t len, unsigned n)
{
	size_t got = 0;

	while (got < len - 1) {
		ssize_t r = read(fd, buf + got, len - 1 - got);
		unsigned lines = 0;

		if (r <= 0)
			break;
		got += (size_t)r;
		buf[got] = '\0';
		for (char *p = buf; (p = strchr(p, '\n')); p++)
			lines++;
		if (lines >= n)
			break;
	}
	buf[got] = '\0';
	return got;
}

static void test_socket(void **state)
{
	struct fx *f = *state;
	struct control_target t = f->ctl.t;
	char buf[8192], *big;
	int fd;

	assert_int_equal(control_start(&f->ctl, f->path, &t), 0);
	fd = connect_to(f->path);
	/* Two requests in one write, answered in order. */
	assert_int_equal(
		write(fd, "{\"cmd\":\"status\"}\n{\"cmd\":\"x\"}\n", 29), 29);
	read_lines(fd, buf, sizeof(buf), 2);
	assert_non_null(strstr(buf, "\"ok\":true"));
	assert_non_null(strstr(strchr(buf, '\n'), "unknown cmd"));
	close(fd);
	/* A line longer than the limit: an error, then the connection ends. */
	fd = connect_to(f->path);
	big = malloc(CONTROL_MAX_LINE + 10);
	memset(big, 'x', CONTROL_MAX_LINE + 10);
	assert_int_equal(write(fd, big, CONTROL_MAX_LINE + 10),
			 CONTROL_MAX_LINE + 10);
	free(big);
	read_lines(fd, buf, sizeof(buf), 2);
	assert_non_null(strstr(buf, "too long"));
	close(fd);
	/* The path is taken while it serves. */
	capture_begin();
	assert_int_equal(control_start(&(struct control){0}, f->path, &t),
			 -EEXIST);
	capture_end();
	control_stop(&f->ctl);
	assert_int_equal(access(f->path, F_OK), -1);
}

/* A socket file nobody listens on is replaced; a regular file is not. */
static void test_stale_and_occupied_paths(void **state)
{
	struct fx *f = *state;
	struct control_target t = f->ctl.t;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* stale */
	assert_int_equal(control_start(&f->ctl, f->path, &t), 0);
	control_stop(&f->ctl);
	fd = open(f->path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	capture_begin();
	assert_int_equal(control_start(&f->ctl, f->path, &t), -EEXIST);
	assert_int_equal(capture_end(), 1);
	assert_non_null(strstr(capture_last, "not a socket"));
	assert_int_equal(access(f->path, F_OK), 0); /* left alone */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_status),	      T(test_stats),
		T(test_pause_resume), T(test_shutdown),
		T(test_quit),	      T(test_bad_requests),
		T(test_socket),	      T(test_stale_and_occupied_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
