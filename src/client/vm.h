/* SPDX-License-Identifier: MIT */
/* `berth vm ...`: the client commands that drive berthd over its socket. */
#ifndef BERTH_CLIENT_VM_H
#define BERTH_CLIENT_VM_H

#include <json-c/json.h>
#include <stdbool.h>

/* berth vm COMMAND ... (argv[0] is "vm"); returns the exit status: 0, 2
 * for bad options or a request berthd refused (4xx), 6 when no berthd
 * answers, 1 for any other failure. */
int cmd_vm(int argc, char **argv);

/* Parse `berth vm create` options (argv[0] is "create") into the JSON body
 * of POST /v1/vms; *start for --start, *sock for --socket (else NULL).
 * -EINVAL after one error line. */
int vm_create_parse(int argc, char **argv, struct json_object **body,
		    bool *start, const char **sock)
	__attribute__((warn_unused_result));

#endif
