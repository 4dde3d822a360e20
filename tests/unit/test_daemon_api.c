/* SPDX-License-Identifier: MIT */
/*
 * berthd's router: which route a method and path reach, the {id} segment,
 * 404 against 405 (with the methods allowed), and the status each error
 * becomes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "daemon/api.h"

static const char *route(const char *method, const char *path, char *param,
			 char *allow, int *ret)
{
	*ret = api_route_find(method, path, param, API_MAX_PARAM + 1, allow,
			      64);
	return *ret >= 0 ? api_route_pattern(*ret) : NULL;
}

static void test_routes(void **state)
{
	char param[API_MAX_PARAM + 1], allow[64];
	int ret;

	(void)state;
	assert_string_equal(route("GET", "/v1/health", param, allow, &ret),
			    "/v1/health");
	assert_string_equal(route("GET", "/v1/vms", param, allow, &ret),
			    "/v1/vms");
	assert_string_equal(route("POST", "/v1/vms", param, allow, &ret),
			    "/v1/vms");
	assert_string_equal(route("GET", "/v1/vms/web-1", param, allow, &ret),
			    "/v1/vms/{id}");
	assert_string_equal(param, "web-1");
	assert_string_equal(route("DELETE", "/v1/vms/abc", param, allow, &ret),
			    "/v1/vms/{id}");
	for (const char **a =
		     (const char *[]){"start", "stop", "pause", "resume", NULL};
	     *a; a++) {
		char path[64], want[64];

		snprintf(path, sizeof(path), "/v1/vms/0123456789ab/%s", *a);
		snprintf(want, sizeof(want), "/v1/vms/{id}/%s", *a);
		assert_string_equal(route("POST", path, param, allow, &ret),
				    want);
		assert_string_equal(param, "0123456789ab");
	}
	assert_string_equal(
		route("GET", "/v1/vms/x/console", param, allow, &ret),
		"/v1/vms/{id}/console");
	assert_string_equal(route("GET", "/v1/vms/x/stats", param, allow, &ret),
			    "/v1/vms/{id}/stats");
	/* HEAD is GET without the body */
	assert_string_equal(route("HEAD", "/v1/vms", param, allow, &ret),
			    "/v1/vms");
	/* metering */
	assert_string_equal(route("GET", "/v1/usage", param, allow, &ret),
			    "/v1/usage");
	assert_string_equal(route("GET", "/metrics", param, allow, &ret),
			    "/metrics");
	assert_null(route("POST", "/metrics", param, allow, &ret));
	assert_int_equal(ret, -EPERM);
	assert_string_equal(allow, "GET");
	assert_null(route("GET", "/metrics/", param, allow, &ret));
	assert_int_equal(ret, -ENOENT);
}

static void test_not_found(void **state)
{
	static const char *const paths[] = {
		"/",
		"",
		"/v1",
		"/v1/",
		"/v1/vms/",
		"/v1/vms//start",
		"/v1/vms/x/start/now",
		"/v1/vms/x/reboot",
		"/v2/vms",
		"/v1/VMS",
		"/v1/health/",
		"/v1/vms/"
		"0123456789012345678901234567890123456789012345678901234567890"
		"123456789",
	};
	char param[API_MAX_PARAM + 1], allow[64];
	int ret;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (route("GET", paths[i], param, allow, &ret) ||
		    ret != -ENOENT)
			fail_msg("GET '%s' matched a route", paths[i]);
		if (route("POST", paths[i], param, allow, &ret) ||
		    ret != -ENOENT)
			fail_msg("POST '%s' matched a route", paths[i]);
	}
}

static void test_method_not_allowed(void **state)
{
	char param[API_MAX_PARAM + 1], allow[64];
	int ret;

	(void)state;
	assert_null(route("PUT", "/v1/vms", param, allow, &ret));
	assert_int_equal(ret, -EPERM);
	assert_string_equal(allow, "GET, POST");
	assert_null(route("POST", "/v1/vms/x", param, allow, &ret));
	assert_int_equal(ret, -EPERM);
	assert_string_equal(allow, "GET, DELETE");
	assert_null(route("GET", "/v1/vms/x/start", param, allow, &ret));
	assert_int_equal(ret, -EPERM);
	assert_string_equal(allow, "POST");
	assert_null(route("DELETE", "/v1/health", param, allow, &ret));
	assert_string_equal(allow, "GET");
	assert_null(route("BREW", "/v1/health", param, allow, &ret));
	assert_int_equal(ret, -EPERM);
}

static void test_status_codes(void **state)
{
	(void)state;
	assert_int_equal(api_status_for(-ENOENT), 404);
	assert_int_equal(api_status_for(-EINVAL), 400);
	assert_int_equal(api_status_for(-EEXIST), 409);
	assert_int_equal(api_status_for(-EBUSY), 409);
	assert_int_equal(api_status_for(-ENOSPC), 409);
	assert_int_equal(api_status_for(-EMSGSIZE), 413);
	assert_int_equal(api_status_for(-EIO), 500);
	assert_int_equal(api_status_for(-ETIMEDOUT), 500);
	assert_int_equal(api_status_for(-ENOMEM), 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_status_codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
