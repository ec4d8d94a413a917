/*
 * email_probes.h — the one table of e-mail address probes, run through
 * email_valid() by test_email and through each old caller by test_conf
 * ([mail] from), test_recipients (recipients_email_valid) and test_staff
 * (staff_email_valid), so the three can never disagree again.
 * Test code only.
 */
#ifndef TAYORI_EMAIL_PROBES_H
#define TAYORI_EMAIL_PROBES_H

#include <stddef.h>

struct email_probe {
	const char *addr;
	int ok;          /* 1: every caller takes it; 0: every caller refuses it */
	const char *why; /* what the probe is about */
};

#define EP_A10 "aaaaaaaaaa"
#define EP_B10 "bbbbbbbbbb"
#define EP_LOCAL64 EP_A10 EP_A10 EP_A10 EP_A10 EP_A10 EP_A10 "aaaa"
#define EP_LABEL63 EP_B10 EP_B10 EP_B10 EP_B10 EP_B10 EP_B10 "bbb"
/* A domain of 252 octets: three labels of 63, one of 57, "jp". */
#define EP_DOM252 EP_LABEL63 "." EP_LABEL63 "." EP_LABEL63 "." EP_B10 EP_B10 EP_B10 EP_B10 EP_B10 \
	"bbbbbbb.jp"

static const struct email_probe email_probes[] = {
	/* good */
	{ "a@b.jp", 1, "shortest usual form" },
	{ "taro.yamada+notice@city.example.lg.jp", 1, "dots and plus in the local part" },
	{ "A_B-c@sub.example.co.jp", 1, "upper case, underscore, hyphen" },
	{ "o'brien@example.com", 1, "apostrophe is atext" },
	{ "!#$%&'*+-/=?^_`{|}~@example.jp", 1, "every atext special" },
	{ "a.b.c.d@example.jp", 1, "single dots between atoms" },
	{ "x@123.example.jp", 1, "all-digit label that is not the last" },
	{ "x@example.x1", 1, "last label with a digit, not all digits" },
	{ "user@xn--eckwd4c7c.xn--zckzah", 1, "IDN domain in punycode" },
	{ "a@b-c.example.jp", 1, "inner hyphen in a label" },
	{ "a@a--b.jp", 1, "double inner hyphen" },
	{ EP_LOCAL64 "@example.jp", 1, "local part of 64 octets" },
	{ "a@" EP_LABEL63 ".jp", 1, "label of 63 octets" },
	{ "x@" EP_DOM252, 1, "254 octets in all" },
	/* bad: shape */
	{ "", 0, "empty" },
	{ "a", 0, "no @" },
	{ "example.jp", 0, "no @, has a dot" },
	{ "@example.jp", 0, "empty local part" },
	{ "a@", 0, "empty domain" },
	{ "a@b", 0, "one-label domain" },
	{ "a@localhost", 0, "one-label domain (localhost)" },
	{ "a@@b.jp", 0, "two @ in a row" },
	{ "a@b@c.jp", 0, "two @" },
	/* bad: dots in the local part */
	{ "a..b@example.jp", 0, "consecutive dots" },
	{ ".a@example.jp", 0, "leading dot" },
	{ "a.@example.jp", 0, "trailing dot (old docomo / au form)" },
	{ ".@example.jp", 0, "only a dot" },
	/* bad: domain */
	{ "a@-c.jp", 0, "label starts with a hyphen" },
	{ "a@c-.jp", 0, "label ends with a hyphen" },
	{ "a@c..jp", 0, "empty label" },
	{ "a@.c.jp", 0, "leading dot in the domain" },
	{ "a@c.jp.", 0, "trailing dot in the domain" },
	{ "a@1.2.3.4", 0, "IPv4 address" },
	{ "a@example.123", 0, "all-digit last label" },
	{ "a@[1.2.3.4]", 0, "address literal" },
	{ "a@[IPv6:::1]", 0, "IPv6 literal" },
	{ "a@c_d.jp", 0, "underscore in the domain" },
	{ "a@example.jp:25", 0, "port" },
	/* bad: characters */
	{ "\"a\"@example.jp", 0, "quoted local part" },
	{ "\"a b\"@example.jp", 0, "quoted local part with a space" },
	{ "a b@example.jp", 0, "space" },
	{ "a,b@example.jp", 0, "comma" },
	{ "a;b@example.jp", 0, "semicolon" },
	{ "a:b@example.jp", 0, "colon" },
	{ "a(comment)@example.jp", 0, "comment" },
	{ "a\\b@example.jp", 0, "backslash" },
	{ "<x@example.jp>", 0, "angle brackets" },
	{ "x@example.jp>", 0, "closing angle bracket" },
	{ "Taro <x@example.jp>", 0, "display name" },
	{ "a@example.jp,b@example.jp", 0, "two addresses" },
	{ "太郎@example.jp", 0, "non-ASCII local part" },
	{ "a@例え.jp", 0, "non-ASCII domain (U-label)" },
	{ "\xef\xbd\x81lice@example.jp", 0, "full-width letter (callers normalise before)" },
	{ "a@example.jp\r\nBcc: victim@example.jp", 0, "header injection" },
	{ "a@example.jp\n", 0, "trailing line feed" },
	{ "a@example.jp\t", 0, "trailing tab" },
	{ " a@example.jp", 0, "leading space" },
	{ "a\x7f@example.jp", 0, "DEL" },
	{ "a@example.jp\x01", 0, "control character" },
	/* bad: lengths */
	{ "a" EP_LOCAL64 "@example.jp", 0, "local part of 65 octets" },
	{ "a@b" EP_LABEL63 ".jp", 0, "label of 64 octets" },
	{ "xy@" EP_DOM252, 0, "255 octets in all" },
};

#define EMAIL_PROBES_N (sizeof(email_probes) / sizeof(email_probes[0]))

#endif
