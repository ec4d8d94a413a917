/*
 * portal/page_help_img.c — the operations manual's screenshots (the PNGs in
 * portal/static/help), served by the dashboard at /static/help/NAME.  Written by
 * tests/browser/help-embed from the committed PNGs; do not edit by hand.
 * Runs in the portal process.
 */
#include "portal/page_staff_help.h"

#include <string.h>


static const struct {
	const char *name;
	const unsigned char *data;
	size_t len;
} images[] = {
	{ "", NULL, 0 },
};

int page_help_img(const char *name, const unsigned char **data, size_t *len)
{
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (images[i].data != NULL && strcmp(images[i].name, name) == 0) {
			*data = images[i].data;
			*len = images[i].len;
			return 0;
		}
	return -1;
}
