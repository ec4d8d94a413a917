/*
 * fuzz_settings.c — libFuzzer target for the batch settings ("manifest")
 * at the top of an intake mail's body or a folder's message.txt
 * (gateway/settings.c): arbitrary bytes, as a sender controls them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch_settings s;
	struct error e = { { 0 }, 0 };
	char *text;

	if (size > 1 << 16)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (settings_parse(text, &s, &e) == 0)
		settings_free(&s);
	free(text);
	return 0;
}
