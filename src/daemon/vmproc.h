/* SPDX-License-Identifier: MIT */
/*
 * The `berth run` processes berthd manages: started detached (double fork
 * and setsid, so they outlive a berthd that is killed), watched through
 * pidfds (they are not berthd's children), told what to do over their
 * control sockets (docs/control.md), and recognised again after a restart
 * by pid and start time (a reused pid has another start time).
 */
#ifndef BERTH_DAEMON_VMPROC_H
#define BERTH_DAEMON_VMPROC_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define VMPROC_SUN_PATH_MAX 108 /* sizeof(sockaddr_un.sun_path) */

/* Where one VM's files live: DIR/vms/ID/. The control socket's path must
 * fit a sockaddr_un, and so then do the others. */
struct vm_paths {
	char dir[VMPROC_SUN_PATH_MAX];
	char control[VMPROC_SUN_PATH_MAX];	/* control.sock */
	char console[VMPROC_SUN_PATH_MAX + 16]; /* console.log: COM1 output */
	char log[VMPROC_SUN_PATH_MAX + 16];	/* berth.log: berth's stderr */
	char status[VMPROC_SUN_PATH_MAX + 16];	/* status.json: --status-file */
};

/* Fill *p for VM id under state_dir; -ENAMETOOLONG if the control socket
 * path would not fit a sockaddr_un. */
int vm_paths_init(struct vm_paths *p, const char *state_dir, const char *id)
	__attribute__((warn_unused_result));

/* Start exe (berth) with argv detached from berthd: its own session, stdin
 * /dev/null, stdout and stderr to p->log (truncated), no other fd, default
 * signal mask. *pid is its pid. -errno (from exec, too) after one error
 * line. */
int vmproc_spawn(const char *exe, char *const argv[], const struct vm_paths *p,
		 pid_t *pid) __attribute__((warn_unused_result));

/* Process pid's start time (/proc/PID/stat field 22). -ESRCH if there is
 * no such process or it has exited (a zombie). */
int proc_start_time(pid_t pid, uint64_t *start)
	__attribute__((warn_unused_result));

/* A pidfd for pid (close-on-exec); -errno. */
int vmproc_pidfd(pid_t pid) __attribute__((warn_unused_result));

/* True once the process behind pidfd has exited. */
bool vmproc_exited(int pidfd);

/* Reap the exited process behind pidfd if it is berthd's child (berthd is
 * the child subreaper of the VMs it starts); nothing otherwise. */
void vmproc_reap(int pidfd);

/* Send sig to the process behind pidfd (never to a reused pid). */
int vmproc_kill(int pidfd, int sig) __attribute__((warn_unused_result));

/* Send {"cmd": cmd} to the control socket at path and wait at most
 * timeout_ms for the reply. On {"ok": true, ...} returns 0 and, if reply
 * is not NULL, the reply object in *reply (the caller puts it). On
 * {"ok": false} -EREMOTEIO with the VM's error in err; -errno if the
 * socket cannot be reached or does not answer (err says why). */
int vmproc_control(const char *path, const char *cmd, int timeout_ms,
		   struct json_object **reply, char *err, size_t len)
	__attribute__((warn_unused_result));

/* The last line of the file at path (at most len bytes) into buf; "" if
 * there is none. For error messages: berth.log's last line says why. */
void vmproc_last_line(const char *path, char *buf, size_t len);

#endif
