/*
 * message_jis.c — UTF-8 into ISO-2022-JP with the CP50220 repertoire, for
 * the notification message when the ward chooses ISO-2022-JP.  Runs in the
 * mailer.
 *
 * GLib's iconv (glibc) knows CP932 but neither CP50220 nor ISO-2022-JP-MS,
 * and its ISO-2022-JP loses the NEC special characters (①, ㈱) and the
 * NEC-selected IBM extensions (髙, 﨑).  So the table is made here, once:
 * every CP932 double-byte code whose lead byte is 0x81-0x9F or 0xE0-0xEF
 * (those are the JIS X 0208 rows 1-94 in Shift_JIS form, row 13 and rows
 * 89-92 included) is decoded by iconv, and the first code found for each
 * character is kept.  The IBM extensions at 0xFA-0xFC have no JIS row and
 * are reached through their NEC-selected twins, as CP50220 does.
 * Half-width katakana become full width (NFKC, which also joins a voiced
 * mark to its kana), a few characters that Japanese text often carries in
 * their Unicode form are taken to CP932's form (〜 to ～, − to －), and a
 * character with no code becomes 〓 (the geta mark, 0x222E).
 */
#include "mailer/message_int.h"

#include <glib.h>
#include <string.h>

#define GETA 0x3013

static GHashTable *jis_table; /* gunichar -> JIS row/cell (0x2121..0x7E7E) */

/* Shift_JIS bytes (lead 0x81-0x9F, 0xE0-0xEF) to a JIS X 0208 code. */
static unsigned sjis_to_jis(unsigned s1, unsigned s2)
{
	unsigned row = (s1 >= 0xE0 ? s1 - 0x40 : s1) - 0x81;
	if (s2 >= 0x9F)
		return ((row * 2 + 0x22) << 8) | (s2 - 0x7E);
	return ((row * 2 + 0x21) << 8) | (s2 - (s2 >= 0x80 ? 0x20 : 0x1F));
}

static void table_add_code(GIConv cd, GHashTable *t, unsigned s1, unsigned s2)
{
	char in[2] = { (char)s1, (char)s2 }, outb[8];
	char *ip = in, *op = outb;
	gsize il = 2, ol = sizeof outb;

	if (g_iconv(cd, &ip, &il, &op, &ol) == (gsize)-1 || il != 0)
		return;
	const gchar *end = NULL;
	if (!g_utf8_validate(outb, (gssize)(op - outb), &end) || end == outb)
		return;
	gunichar c = g_utf8_get_char(outb);
	if (g_utf8_next_char(outb) != op)
		return; /* not one character */
	if (!g_hash_table_contains(t, GUINT_TO_POINTER(c)))
		g_hash_table_insert(t, GUINT_TO_POINTER(c),
				    GUINT_TO_POINTER(sjis_to_jis(s1, s2)));
}

static gpointer table_build(gpointer unused)
{
	(void)unused;
	GIConv cd = g_iconv_open("UTF-8", "CP932");
	if (cd == (GIConv)-1)
		return NULL;
	GHashTable *t = g_hash_table_new(g_direct_hash, g_direct_equal);
	for (unsigned s1 = 0x81; s1 <= 0xEF; s1++) {
		if (s1 >= 0xA0 && s1 < 0xE0)
			continue;
		for (unsigned s2 = 0x40; s2 <= 0xFC; s2++)
			if (s2 != 0x7F)
				table_add_code(cd, t, s1, s2);
	}
	g_iconv_close(cd);
	jis_table = t;
	return t;
}

/* Unicode forms that CP932 writes as another code point. */
static gunichar cp932_form(gunichar c)
{
	switch (c) {
	case 0x301C: return 0xFF5E; /* wave dash */
	case 0x2212: return 0xFF0D; /* minus */
	case 0x2016: return 0x2225; /* double vertical line */
	case 0x2014: return 0x2015; /* em dash */
	case 0x00A2: return 0xFFE0;
	case 0x00A3: return 0xFFE1;
	case 0x00AC: return 0xFFE2;
	case 0x00A5: return 0xFFE5; /* yen */
	case 0x3099: return 0x309B; /* voiced marks left alone by NFKC */
	case 0x309A: return 0x309C;
	default: return c;
	}
}

static int is_halfwidth_kana(gunichar c)
{
	return c >= 0xFF61 && c <= 0xFF9F;
}

struct jis_state {
	struct buf *out;
	int kanji; /* 1 after ESC $ B */
};

static int put_char(struct jis_state *st, gunichar c)
{
	if (c < 0x80) {
		if (st->kanji && buf_append(st->out, "\033(B", 3) < 0)
			return -1;
		st->kanji = 0;
		return buf_append_u8(st->out, (uint8_t)c);
	}
	gpointer v = g_hash_table_lookup(jis_table, GUINT_TO_POINTER(cp932_form(c)));
	if (v == NULL)
		v = g_hash_table_lookup(jis_table, GUINT_TO_POINTER(GETA));
	unsigned code = GPOINTER_TO_UINT(v);
	if (!st->kanji && buf_append(st->out, "\033$B", 3) < 0)
		return -1;
	st->kanji = 1;
	if (buf_append_u8(st->out, (uint8_t)(code >> 8)) < 0)
		return -1;
	return buf_append_u8(st->out, (uint8_t)(code & 0xFF));
}

/* A run of half-width katakana, as full width (NFKC joins voiced marks). */
static int put_kana_run(struct jis_state *st, const char *p, size_t n)
{
	char *full = g_utf8_normalize(p, (gssize)n, G_NORMALIZE_NFKC);
	int rc = 0;
	if (full == NULL)
		return -1;
	for (const char *q = full; *q != '\0' && rc == 0; q = g_utf8_next_char(q))
		rc = put_char(st, g_utf8_get_char(q));
	g_free(full);
	return rc;
}

int message_jis_encode(const char *text, size_t len, struct buf *out)
{
	static GOnce once = G_ONCE_INIT;
	struct jis_state st = { out, 0 };
	const char *p = text, *end = text + len;

	if (g_once(&once, table_build, NULL) == NULL)
		return -1;
	while (p < end) {
		gunichar c = g_utf8_get_char(p);
		if (is_halfwidth_kana(c)) {
			const char *q = p;
			while (q < end && is_halfwidth_kana(g_utf8_get_char(q)))
				q = g_utf8_next_char(q);
			if (put_kana_run(&st, p, (size_t)(q - p)) < 0)
				return -1;
			p = q;
			continue;
		}
		if (put_char(&st, c) < 0)
			return -1;
		p = g_utf8_next_char(p);
	}
	if (st.kanji && buf_append(out, "\033(B", 3) < 0)
		return -1;
	return 0;
}
