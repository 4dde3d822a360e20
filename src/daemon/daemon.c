/* SPDX-License-Identifier: MIT */
#include "daemon/daemon.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/dlog.h"
#include "daemon/meter.h"
#include "daemon/registry.h"
#include "vm/vm.h"

/* DIR/vms/<12 hex>/control.sock must fit a sockaddr_un. */
#define STATE_DIR_MAX (107 - 30)

void daemon_usage(FILE *f)
{
	fputs("usage: berth daemon [options]   (or: berthd [options])\n"
	      "Manage VMs over an HTTP API on a Unix socket (docs/api.md).\n"
	      "\n"
	      "  --state-dir DIR      VM definitions, state and files "
	      "(default " BERTHD_DEFAULT_STATE_DIR ")\n"
	      "  --socket PATH        the API socket "
	      "(default " BERTHD_DEFAULT_SOCKET ")\n"
	      "  --log FILE           append the log to FILE (default: "
	      "stderr)\n"
	      "  --max-memory-mib N   the most RAM one VM may have (default: "
	      "the\n"
	      "                       host's MemTotal)\n"
	      "  --sample-interval S  record each VM's usage every S seconds "
	      "(default 5,\n"
	      "                       at least 0.1)\n"
	      "  -v, --verbose        debug lines too\n"
	      "  -h, --help           this text\n"
	      "\n"
	      "VMs keep running when berthd stops; the next berthd on the "
	      "same\n"
	      "--state-dir finds them again.\n",
	      f);
}

static const struct option daemon_options[] = {
	{"state-dir", required_argument, NULL, 'd'},
	{"socket", required_argument, NULL, 's'},
	{"log", required_argument, NULL, 'l'},
	{"max-memory-mib", required_argument, NULL, 'm'},
	{"sample-interval", required_argument, NULL, 'i'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int parse_mib(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < 2 ||
	    v > (1ULL << 20)) {
		dlog(LOG_ERR,
		     "--max-memory-mib: '%s' is not a number of MiB from 2 to "
		     "1048576",
		     s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!isdigit((unsigned char)*s) || *end || errno ||
	    !(v >= METER_INTERVAL_MIN && v <= METER_INTERVAL_MAX)) {
		dlog(LOG_ERR,
		     "--sample-interval: '%s' is not a number of seconds from "
		     "%g to %g",
		     s, METER_INTERVAL_MIN, METER_INTERVAL_MAX);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int daemon_config_parse(struct daemon_config *c, int argc, char **argv)
{
	int opt;

	*c = (struct daemon_config){.state_dir = BERTHD_DEFAULT_STATE_DIR,
				    .socket = BERTHD_DEFAULT_SOCKET,
				    .sample_interval = METER_INTERVAL_DEFAULT};
	optind = 1;
	opterr = 1;
	while ((opt = getopt_long(argc, argv, "vh", daemon_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 'd':
			c->state_dir = optarg;
			break;
		case 's':
			c->socket = optarg;
			break;
		case 'l':
			c->log = optarg;
			break;
		case 'm':
			if (parse_mib(optarg, &c->max_memory_mib))
				return -EINVAL;
			break;
		case 'i':
			if (parse_interval(optarg, &c->sample_interval))
				return -EINVAL;
			break;
		case 'v':
			c->verbose++;
			break;
		case 'h':
			c->help = true;
			break;
		default: /* getopt said what was wrong */
			return -EINVAL;
		}
	}
	if (optind < argc) {
		dlog(LOG_ERR, "unexpected argument '%s' (see berthd --help)",
		     argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- start-up ------------------------------------------------------------ */

/* mkdir -p, each new directory with mode. */
static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Make the state directory, resolve it, lock it against a second berthd.
 * Returns the lock's fd. */
static int state_dir_open(const char *dir, char *abs)
{
	char path[PATH_MAX + 16];
	int ret = mkdirs(dir, 0700), fd;

	if (!ret && !realpath(dir, abs))
		ret = -errno;
	if (ret) {
		dlog(LOG_ERR, "--state-dir: %s: %s", dir, strerror(-ret));
		return ret;
	}
	if (strlen(abs) > STATE_DIR_MAX) {
		dlog(LOG_ERR,
		     "--state-dir: %s is longer than %d bytes (VM control "
		     "sockets under it would not fit a Unix socket address)",
		     abs, STATE_DIR_MAX);
		return -ENAMETOOLONG;
	}
	snprintf(path, sizeof(path), "%s/vms", abs);
	if (mkdir(path, 0700) && errno != EEXIST) {
		ret = -errno;
		dlog(LOG_ERR, "--state-dir: cannot create %s: %s", path,
		     strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/berthd.lock", abs);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		dlog(LOG_ERR, "--state-dir: %s: %s", abs,
		     ret == -EWOULDBLOCK ? "another berthd is using it"
					 : strerror(-ret));
		if (fd >= 0)
			close(fd);
		return ret;
	}
	return fd;
}

/* Bind and listen on path; a stale socket there (nobody listening) is
 * replaced, a live one or any other file refused. */
static int socket_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char dir[sizeof(sa.sun_path)], *slash;
	struct stat st;
	int fd, err;

	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		dlog(LOG_ERR,
		     "--socket: '%s' is not a socket path (1 to %zu "
		     "bytes)",
		     path, sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path));
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdirs(dir, 0755))
			dlog(LOG_WARN, "--socket: cannot create %s", dir);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode) ||
		    !connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			dlog(LOG_ERR, "--socket: %s exists and is %s", path,
			     S_ISSOCK(st.st_mode) ? "in use (another berthd?)"
						  : "not a socket");
			close(fd);
			return -EEXIST;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    listen(fd, 64)) {
		err = errno;
		dlog(LOG_ERR, "--socket: cannot listen on %s: %s", path,
		     strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

/* fds 0-2 open (on /dev/null if need be): berthd's own fds must never
 * take their numbers, or a VM process would inherit one as its stdout. */
static void std_fds_open(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR);
	while (fd >= 0 && fd <= 2);
	if (fd >= 0)
		close(fd);
}

/* SIGINT and SIGTERM end berthd through a signalfd; SIGCHLD wakes it to
 * reap. Blocked before any thread starts, so every thread inherits the
 * mask. */
static int signals_open(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* ---- running --------------------------------------------------------------- */

/* Until SIGINT or SIGTERM: notice VM processes that exit, and reap the
 * other processes that come to berthd as their subreaper. */
static int main_loop(struct registry *r, int sigfd)
{
	struct pollfd *p = calloc(REG_MAX_VMS + 2, sizeof(*p));
	struct signalfd_siginfo si;
	uint64_t v;
	unsigned n;

	if (!p)
		return -ENOMEM;
	for (;;) {
		p[0] = (struct pollfd){.fd = sigfd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = r->wake_fd, .events = POLLIN};
		n = 2 + reg_poll_fds(r, p + 2, REG_MAX_VMS);
		/* The timeout: strays left while a VM was being spawned. */
		if (poll(p, n, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents &&
		    read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si) &&
		    si.ssi_signo != SIGCHLD) {
			if (si.ssi_signo != SIGHUP) {
				dlog(LOG_INFO,
				     "%s: stopping (the VMs keep "
				     "running)",
				     strsignal((int)si.ssi_signo));
				break;
			}
			dlog(LOG_INFO, "SIGHUP ignored");
		}
		if (p[1].revents && read(r->wake_fd, &v, sizeof(v)) < 0)
			dlog(LOG_DEBUG, "wake: %s", strerror(errno));
		for (unsigned i = 2; i < n; i++) {
			if (p[i].revents) {
				reg_reap_all(r);
				break;
			}
		}
		reg_reap_strays(r);
	}
	free(p);
	return 0;
}

static uint64_t host_mem_mib(void)
{
	struct sysinfo si;

	if (sysinfo(&si))
		return 1 << 20;
	return (uint64_t)si.totalram * si.mem_unit >> 20;
}

/* Everything after the options: returns berth's exit status. */

/* What runs the VMs: the lean berth next to berthd (it does not load
 * berthd's libraries), else berthd itself, which can run them too. */
static const char *vm_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 8);

	if (n > 0) {
		char *slash;

		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash) {
			strcpy(slash + 1, "berth");
			if (!access(buf, X_OK))
				return buf;
		}
	}
	return "/proc/self/exe";
}

static int daemon_run(const struct daemon_config *c, int sigfd)
{
	struct vmdef_limits lim = {.max_memory_mib = c->max_memory_mib,
				   .host_cpus = (unsigned)get_nprocs(),
				   .check_files = true};
	char dir[PATH_MAX], dbpath[PATH_MAX + 16], exe[PATH_MAX];
	struct registry reg;
	struct api *api = NULL;
	struct db *db = NULL;
	int lock, fd, ret;

	lock = state_dir_open(c->state_dir, dir);
	if (lock < 0)
		return lock == -ENAMETOOLONG ? BERTH_EXIT_USAGE
					     : BERTH_EXIT_HOST;
	if (!lim.max_memory_mib)
		lim.max_memory_mib = host_mem_mib();
	snprintf(dbpath, sizeof(dbpath), "%s/berth.db", dir);
	ret = db_open(&db, dbpath);
	if (!ret)
		ret = registry_init(&reg, db, dir, vm_exe(exe, sizeof(exe)),
				    &lim);
	/* The VMs berthd starts become its children when their middle
	 * process exits: their exit is then a zombie whose CPU time the
	 * sampler reads before reaping it. They still outlive berthd. */
	if (!ret && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		dlog(LOG_WARN,
		     "cannot become the VMs' subreaper (%s): the CPU time of "
		     "a VM's last interval will be lost",
		     strerror(errno));
	if (!ret)
		ret = meter_start(&reg, c->sample_interval);
	if (!ret) {
		registry_recover(&reg);
		fd = socket_open(c->socket);
		ret = fd < 0 ? fd : api_start(&api, &reg, fd);
	}
	if (!ret) {
		dlog(LOG_INFO, "listening on %s (state %s, %u VMs)", c->socket,
		     dir, reg.nr);
		ret = main_loop(&reg, sigfd);
		api_stop(api);
		unlink(c->socket);
	}
	if (db) {
		meter_stop(&reg);
		registry_fini(&reg);
	}
	db_close(db);
	close(lock);
	if (ret == -EINVAL) /* a bad --socket */
		return BERTH_EXIT_USAGE;
	return ret ? BERTH_EXIT_HOST : BERTH_EXIT_OK;
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon_config c;
	int sigfd, status;

	log_threshold = LOG_INFO;
	if (daemon_config_parse(&c, argc, argv))
		return BERTH_EXIT_USAGE;
	if (c.help) {
		daemon_usage(stdout);
		return 0;
	}
	if (c.verbose)
		log_threshold = LOG_DEBUG;
	std_fds_open();
	if (dlog_open(c.log))
		return BERTH_EXIT_USAGE;
	sigfd = signals_open();
	if (sigfd < 0) {
		dlog(LOG_ERR, "cannot set up signals: %s", strerror(-sigfd));
		return BERTH_EXIT_HOST;
	}
	status = daemon_run(&c, sigfd);
	close(sigfd);
	dlog_close();
	return status;
}
