/*
 * fuzz_conf.c — libFuzzer target for the tayori.conf parser (conf/):
 * conf_parse() on arbitrary bytes, then every accessor on whatever it
 * accepted, and the HOST:PORT, duration and size parsers on the raw input.
 * Runs as a fuzzing program only (clang -fsanitize=fuzzer).
 * Seeds: tests/fuzz/corpus/conf/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	struct error e;
	size_t n;
	const struct conf_setting *s = conf_schema(&n);
	char small[64], host[256];
	int64_t v;
	int port, b;

	memset(&e, 'X', sizeof(e));
	if (conf_parse((const char *)data, size, "fuzz.conf", "/srv/tayori", &c, &e) == 0) {
		for (size_t i = 0; i < n; i++) {
			const char *str = conf_str(c, s[i].section, s[i].key);
			char path[4096];
			if (strlen(str) > CONF_MAX_LINE)
				abort(); /* a value never outgrows its line */
			switch (s[i].type) {
			case CONF_INT: case CONF_BOOL: case CONF_DURATION: case CONF_SIZE: case CONF_ENUM:
				v = conf_int(c, s[i].section, s[i].key);
				if ((s[i].type == CONF_INT || s[i].type == CONF_DURATION ||
				     s[i].type == CONF_SIZE) && (v < s[i].min || v > s[i].max))
					abort(); /* the range check was bypassed */
				break;
			case CONF_PATH:
				if (conf_path(c, s[i].section, s[i].key, path, sizeof(path)) == 0 &&
				    path[0] != '\0' && path[0] != '/')
					abort(); /* resolved paths are absolute */
				(void)conf_path(c, s[i].section, s[i].key, small, sizeof(small));
				break;
			case CONF_LISTEN:
				if (conf_listen_split(str, host, sizeof(host), &port) < 0 || port < 1 ||
				    port > 65535)
					abort(); /* an accepted address splits */
				break;
			default:
				break;
			}
			(void)conf_is_set(c, s[i].section, s[i].key);
		}
		(void)conf_file(c);
		conf_free(&c);
	} else if (c != NULL || memchr(e.msg, '\0', sizeof(e.msg)) == NULL) {
		abort(); /* failure leaves no conf and a terminated message */
	}

	/* the small parsers on the first bytes as a string */
	{
		char str[128];
		size_t len = size < sizeof(str) - 1 ? size : sizeof(str) - 1;
		memcpy(str, data, len);
		str[len] = '\0';
		(void)conf_listen_split(str, host, sizeof(host), &port);
		(void)conf_listen_split(str, small, 4, &port);
		(void)conf_duration_parse(str, &v);
		(void)conf_size_parse(str, &v);
		(void)conf_bool_parse(str, &b);
	}
	return 0;
}
