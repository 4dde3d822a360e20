/* SPDX-License-Identifier: MIT */
/*
 * measure: run one command and print what it cost.
 *
 *   measure [-o FILE] COMMAND [ARG...]
 *
 * Runs COMMAND with stdin from /dev/null and stdout and stderr to FILE
 * (default /dev/null), waits for it and prints one line on stdout:
 *
 *   wall_ms cpu_ms maxrss_kib status
 *
 * wall_ms is CLOCK_MONOTONIC from just before fork to wait4's return,
 * cpu_ms is the child's user + system time, maxrss_kib its peak resident
 * set (ru_maxrss), and status its exit status, or 128 + signal number if a
 * signal killed it. measure's own exit status is 0 unless it failed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double ms(const struct timeval *tv)
{
	return tv->tv_sec * 1e3 + tv->tv_usec / 1e3;
}

int main(int argc, char **argv)
{
	const char *out = "/dev/null";
	struct timespec t0, t1;
	struct rusage ru;
	int status, fd;
	pid_t pid;

	if (argc > 2 && !strcmp(argv[1], "-o")) {
		out = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		fputs("usage: measure [-o FILE] COMMAND [ARG...]\n", stderr);
		return 2;
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 1;
	}
	if (pid == 0) {
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(126);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execvp(argv[1], argv + 1);
		perror(argv[1]); /* lands in FILE */
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("measure: wait4");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	printf("%.3f %.3f %ld %d\n",
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
	       ms(&ru.ru_utime) + ms(&ru.ru_stime), ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status));
	return 0;
}
