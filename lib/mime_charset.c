/*
 * mime_charset.c — mail text in its declared or guessed charset into UTF-8
 * (see mime_charset.h).  Runs in the gateway, in `tayori submit`
 * and (for bounces) in the mailer.
 *
 * Converted here, not by GMime, so that Outlook's ISO-2022-JP with the NEC
 * and IBM extensions (①, ㈱, 髙: CP50220/50221) decodes: ISO-2022-JP is
 * turned into Shift_JIS arithmetically (JIS X 0208 rows map one to one)
 * and read as CP932, Microsoft's Shift_JIS.  Every output is bounded by a
 * multiple of the input's length.
 */
#include "lib/mime_charset.h"

#include <errno.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

int mime_charset_ieq(const char *a, const char *b)
{
	return a != NULL && g_ascii_strcasecmp(a, b) == 0;
}

/* The converter to use for a declared charset.  Windows writes CP932 and
 * labels it Shift_JIS; EUC-JP-MS is the superset with the NEC/IBM rows.
 * "us-ascii" parts with 8-bit bytes are nearly always UTF-8 in practice. */
static const char *charset_alias(const char *cs)
{
	static const char *const sjis[] = { "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji",
					    "windows-31j", "cp932", "ms932", "csshiftjis",
					    "x-ms-cp932", "csWindows31J" };
	static const char *const eucjp[] = { "euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese" };
	static const char *const jis[] = { "iso-2022-jp", "csiso2022jp", "iso-2022-jp-ms",
					   "cp50220", "cp50221", "cp50222", "iso-2022-jp-1",
					   "iso-2022-jp-2", "iso-2022-jp-3" };
	static const char *const utf8[] = { "utf-8", "utf8", "us-ascii", "ascii", "unicode-1-1-utf-8" };
	if (cs == NULL || cs[0] == '\0')
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(sjis); i++)
		if (mime_charset_ieq(cs, sjis[i]))
			return "CP932";
	for (size_t i = 0; i < ARRAY_SIZE(eucjp); i++)
		if (mime_charset_ieq(cs, eucjp[i]))
			return "EUC-JP-MS";
	for (size_t i = 0; i < ARRAY_SIZE(jis); i++)
		if (mime_charset_ieq(cs, jis[i]))
			return "ISO-2022-JP";
	for (size_t i = 0; i < ARRAY_SIZE(utf8); i++)
		if (mime_charset_ieq(cs, utf8[i]))
			return "UTF-8";
	return cs;
}

/* Convert with iconv; an undecodable byte becomes U+FFFD and is skipped.
 * Returns the number of replacements, or -1 when iconv does not know the
 * charset.  out is the caller's. */
static long iconv_lossy(const char *from, const uint8_t *in, size_t len, struct buf *out)
{
	GIConv cd = g_iconv_open("UTF-8", from);
	long bad = 0;
	char chunk[4096];

	if (cd == (GIConv)-1)
		return -1;
	char *ip = (char *)in;
	gsize il = len;
	while (il > 0) {
		char *op = chunk;
		gsize ol = sizeof(chunk);
		gsize r = g_iconv(cd, &ip, &il, &op, &ol);
		int err = errno;
		if (buf_append(out, chunk, (size_t)(op - chunk)) < 0)
			break;
		if (r != (gsize)-1)
			continue;
		if (err == E2BIG)
			continue;
		/* EILSEQ, or EINVAL (a sequence cut at the end): replace a byte */
		bad++;
		ip++;
		il--;
		if (buf_append_str(out, "\xEF\xBF\xBD") < 0)
			break;
	}
	/* flush the shift state of stateful encodings */
	{
		char *op = chunk;
		gsize ol = sizeof(chunk);
		g_iconv(cd, NULL, NULL, &op, &ol);
		(void)buf_append(out, chunk, (size_t)(op - chunk));
	}
	g_iconv_close(cd);
	return bad;
}

/*
 * ISO-2022-JP (RFC 1468, plus the CP5022x habits: JIS X 0201 kana by
 * ESC ( I or SO/SI, and the NEC/IBM rows) into Shift_JIS bytes, to be read
 * as CP932.  A byte outside the escapes' repertoire passes through.
 */
static void jis_to_sjis(const uint8_t *in, size_t len, struct buf *out)
{
	enum { ASCII, KANJI, KANA } mode = ASCII, saved = ASCII;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (c == 0x1B && i + 2 < len) {
			uint8_t a = in[i + 1], b = in[i + 2];
			if (a == '$' && (b == 'B' || b == '@')) {
				mode = KANJI;
				i += 2;
				continue;
			}
			if (a == '(' && (b == 'B' || b == 'J' || b == 'H')) {
				mode = ASCII;
				i += 2;
				continue;
			}
			if (a == '(' && b == 'I') {
				mode = KANA;
				i += 2;
				continue;
			}
			if (a == '$' && b == '(' && i + 3 < len) { /* ESC $ ( D/Q: JIS X 0212/0213 */
				mode = KANJI;
				i += 3;
				continue;
			}
		}
		if (c == 0x0E) { /* SO: kana until SI */
			saved = mode;
			mode = KANA;
			continue;
		}
		if (c == 0x0F) {
			mode = saved == KANA ? ASCII : saved;
			continue;
		}
		if (c == '\n' || c == '\r') { /* RFC 1468: each line ends in ASCII */
			mode = ASCII;
			(void)buf_append_u8(out, c);
			continue;
		}
		if (mode == KANJI && c >= 0x21 && c <= 0x7E && i + 1 < len && in[i + 1] >= 0x21 &&
		    in[i + 1] <= 0x7E) {
			unsigned j1 = c, j2 = in[i + 1];
			uint8_t s1 = (uint8_t)(((j1 + 1) >> 1) + (j1 <= 0x5E ? 0x70 : 0xB0));
			uint8_t s2 = (uint8_t)((j1 & 1) ? j2 + (j2 >= 0x60 ? 0x20 : 0x1F) : j2 + 0x7E);
			uint8_t pair[2] = { s1, s2 };
			(void)buf_append(out, pair, 2);
			i++;
			continue;
		}
		if (mode == KANA && c >= 0x21 && c <= 0x5F) {
			(void)buf_append_u8(out, (uint8_t)(c + 0x80));
			continue;
		}
		(void)buf_append_u8(out, c);
	}
}

static int has_jis_escape(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i + 2 < len; i++)
		if (d[i] == 0x1B && (d[i + 1] == '$' || (d[i + 1] == '(' && d[i + 2] == 'I')))
			return 1;
	return 0;
}

/* EUC-JP never uses 0x80-0x8D or 0x90-0xA0 (iconv would read them as C1
 * controls), while Shift_JIS lead bytes live there: tells the two apart. */
static int could_be_eucjp(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((d[i] >= 0x80 && d[i] <= 0x8D) || (d[i] >= 0x90 && d[i] <= 0xA0))
			return 0;
	return 1;
}

static void convert_into(const char *charset, const uint8_t *d, size_t len, struct buf *out)
{
	const char *cs = charset_alias(charset);

	if (cs != NULL && strcmp(cs, "UTF-8") == 0 && g_utf8_validate((const char *)d, (gssize)len, NULL)) {
		(void)buf_append(out, d, len);
		return;
	}
	if ((cs != NULL && strcmp(cs, "ISO-2022-JP") == 0) || has_jis_escape(d, len)) {
		struct buf sj;
		buf_init(&sj, len + 16);
		jis_to_sjis(d, len, &sj);
		(void)iconv_lossy("CP932", sj.data ? sj.data : (const uint8_t *)"", sj.len, out);
		buf_free(&sj);
		return;
	}
	if (cs != NULL && strcmp(cs, "UTF-8") != 0) {
		size_t mark = out->len;
		if (iconv_lossy(cs, d, len, out) >= 0)
			return;
		out->len = mark;
	}
	/* no usable label (or "UTF-8" that is not): guess */
	if (g_utf8_validate((const char *)d, (gssize)len, NULL)) {
		(void)buf_append(out, d, len);
		return;
	}
	if (could_be_eucjp(d, len)) {
		size_t mark = out->len;
		if (iconv_lossy("EUC-JP-MS", d, len, out) == 0)
			return;
		out->len = mark;
		if (out->data != NULL)
			out->data[mark] = '\0';
	}
	(void)iconv_lossy("CP932", d, len, out);
}

char *mime_charset_to_utf8(const char *charset, const uint8_t *data, size_t len)
{
	struct buf b;
	char *s;
	size_t n;

	buf_init(&b, 4 * len + 64);
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 BOM */
		data += 3;
		len -= 3;
	}
	convert_into(charset, data, len, &b);
	if (b.data == NULL)
		return xstrdup("");
	s = (char *)buf_steal(&b, &n);
	if (!g_utf8_validate(s, (gssize)n, NULL) || strlen(s) != n) {
		/* a NUL inside, or a converter that misbehaved: keep what is valid */
		gchar *v = g_utf8_make_valid(s, (gssize)strlen(s));
		free(s);
		s = xstrdup(v);
		g_free(v);
	}
	return s;
}
