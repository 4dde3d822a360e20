/* SPDX-License-Identifier: MIT */
#include "cli/console.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "util/log.h"
#include "virtio/console.h"

#define CTRL_A 0x01

struct console {
	struct vm *vm;
	struct virtio_dev *vcons; /* stdin goes here if set, else COM1 */
	bool feed_stdin;
	bool raw;
	struct termios saved;
	bool escape; /* the last byte was Ctrl-A */
	uint8_t pending[256];
	size_t pending_len;
};

static void console_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGWINCH); /* the terminal was resized */
}

int console_block_signals(void)
{
	sigset_t set;

	console_signals(&set);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

bool console_term_size(uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;

	if (!isatty(STDIN_FILENO) || ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) ||
	    !ws.ws_col || !ws.ws_row)
		return false;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return true;
}

static void console_raw_on(struct console *c)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved))
		return;
	t = c->saved;
	cfmakeraw(&t);
	/* Keep output post-processing so berth's own log lines stay tidy. */
	t.c_oflag |= OPOST | ONLCR;
	if (!tcsetattr(STDIN_FILENO, TCSANOW, &t))
		c->raw = true;
}

static void console_raw_off(struct console *c)
{
	if (c->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
	c->raw = false;
}

/* Apply the Ctrl-A escape to fresh input, appending to c->pending. */
static void console_take_input(struct console *c, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t b = buf[i];

		if (c->raw && c->escape) {
			c->escape = false;
			if (b == 'x' || b == 'X') {
				vm_stop(c->vm, BERTH_EXIT_OK, "user quit");
				return;
			}
			if (b != CTRL_A)
				continue;
		} else if (c->raw && b == CTRL_A) {
			c->escape = true;
			continue;
		}
		if (c->pending_len < sizeof(c->pending))
			c->pending[c->pending_len++] = b;
	}
}

static void console_flush_pending(struct console *c)
{
	size_t n = c->vcons ? virtio_console_input(c->vcons, c->pending,
						   c->pending_len)
			    : uart_receive(&c->vm->com1, c->pending,
					   c->pending_len);

	memmove(c->pending, c->pending + n, c->pending_len - n);
	c->pending_len -= n;
}

static void console_read_stdin(struct console *c)
{
	uint8_t buf[128];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n > 0)
		console_take_input(c, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		c->feed_stdin = false; /* EOF: the guest keeps running */
}

static void console_read_signal(struct console *c, int sfd)
{
	struct signalfd_siginfo si;
	uint16_t cols, rows;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (c->vcons && console_term_size(&cols, &rows))
			virtio_console_resize(c->vcons, cols, rows);
	} else {
		pr_info("stopping the VM on signal %u", si.ssi_signo);
		vm_stop(c->vm, BERTH_EXIT_SIGNAL, "signal");
	}
}

static int console_loop(struct console *c, int sfd)
{
	while (!atomic_load(&c->vm->stopping)) {
		/* While the console device's buffer is full, stop reading
		 * stdin and retry the pending bytes every few milliseconds. */
		bool want_in = c->feed_stdin && !c->pending_len;
		struct pollfd p[3] = {
			{.fd = c->vm->stop_fd, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = want_in ? STDIN_FILENO : -1, .events = POLLIN},
		};

		if (poll(p, 3, c->pending_len ? 10 : -1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents & POLLIN)
			console_read_signal(c, sfd);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			console_read_stdin(c);
		if (c->pending_len)
			console_flush_pending(c);
	}
	return 0;
}

int console_run(struct vm *vm, bool feed_stdin, struct virtio_dev *vcons)
{
	struct console c = {.vm = vm, .vcons = vcons, .feed_stdin = feed_stdin};
	sigset_t set;
	int sfd, ret;

	console_signals(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	if (feed_stdin)
		console_raw_on(&c);
	ret = console_loop(&c, sfd);
	console_raw_off(&c);
	close(sfd);
	return ret;
}
