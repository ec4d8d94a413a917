/*
 * gen_batch.c — makes one random batch for the attribution property test
 * (tests/integration/attribution.sh): a multi-page PDF of printed notices
 * (Japanese text in an embedded CID font, as tests/bench/gen_corpus.c
 * makes them) and its recipients CSV, with what real batches hold and the
 * splitter must not get wrong:
 *   - residents whose pages are in the PDF but who are missing from the
 *     CSV, and CSV rows with no pages;
 *   - pages that show two numbers: the head of household's (世帯主番号,
 *     another resident's or someone else's) beside the addressee's
 *     (宛名番号);
 *   - 1-3 pages per resident, with the key on every page or on the first
 *     page only (keyless continuation pages), with or without page
 *     numbers (「2／3」, "2 / 3");
 *   - the key and its label inline, in table cells drawn as boxes (label
 *     and number separate text runs), or under a header row;
 *   - full-width digits, Excel's dropped leading zeros in the CSV, CP932
 *     or UTF-8, and numbers that are not keys (dates, amounts, telephone
 *     numbers, a 8-digit issue number on every page).
 * It also writes a manifest of the truth, for the checker.
 *
 * A test tool, not part of the product; it runs on the developer's or
 * CI's machine.  Cairo's PDF surface (ISO 32000-1) embeds the font,
 * IPAGothic from Debian's fonts-ipafont-gothic.
 *
 * Usage: gen_batch SEED OUTDIR
 * Writes OUTDIR/batch/notices.pdf, OUTDIR/batch/list.csv and
 * OUTDIR/manifest.txt, whose lines are:
 *   style inline|cells|header       keys every|first       markers yes|no
 *   resident KEY IN_CSV PAGES HEAD  (HEAD: a key or "-"; IN_CSV 0 or 1)
 *   extra KEY                       (a CSV row whose key no page shows)
 * The same SEED always gives the same batch.
 */
#include <cairo.h>
#include <cairo-pdf.h>
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RES 40

static const char *family_names[] = {
	"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
	"吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
};
static const char *given_names[] = {
	"太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔太", "結衣", "大輔", "さくら",
};

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	/* xorshift64*: fixed and the same everywhere, unlike rand() */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

enum style { INLINE, CELLS, HEADER };

struct resident {
	char key[16];      /* 8 digits */
	int in_csv;
	int pages;
	int head;          /* index of the head of household, -1: none, -2: outsider */
	char outsider[16]; /* head == -2: a number of nobody in the batch */
	int fullwidth;
	int family, given;
};

static void fullwidth(const char *ascii, char *out, size_t outsize)
{
	size_t o = 0;
	for (const char *p = ascii; *p && o + 4 < outsize; p++) {
		if (*p >= '0' && *p <= '9') {
			out[o++] = (char)0xEF;
			out[o++] = (char)0xBC;
			out[o++] = (char)(0x90 + (*p - '0'));
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void text(cairo_t *cr, double x, double y, double size, const char *s)
{
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, s);
}

static void cell(cairo_t *cr, double x, double y, double w, const char *s)
{
	cairo_rectangle(cr, x, y - 13, w, 18);
	cairo_set_line_width(cr, 0.5);
	cairo_stroke(cr);
	text(cr, x + 4, y, 10.5, s);
}

static const char *head_key(const struct resident *rs, const struct resident *r)
{
	return r->head == -2 ? r->outsider : r->head >= 0 ? rs[r->head].key : NULL;
}

/* The number box: the addressee's key and, when set, the head's. */
static void numbers(cairo_t *cr, enum style st, const struct resident *rs,
		    const struct resident *r)
{
	char shown[64], hshown[64];
	const char *hk = head_key(rs, r);

	if (r->fullwidth)
		fullwidth(r->key, shown, sizeof shown);
	else
		g_strlcpy(shown, r->key, sizeof shown);
	if (hk)
		g_strlcpy(hshown, hk, sizeof hshown);
	switch (st) {
	case INLINE:
		if (hk) {
			char b[96];
			snprintf(b, sizeof b, "世帯主番号 %s", hshown);
			text(cr, 60, 110, 10, b);
		}
		{
			char b[96];
			snprintf(b, sizeof b, "宛名番号 %s", shown);
			text(cr, 330, 110, 10, b);
		}
		break;
	case CELLS:
		/* label and number in boxes of their own, one row each */
		if (hk) {
			cell(cr, 330, 96, 80, "世帯主番号");
			cell(cr, 410, 96, 110, hshown);
		}
		cell(cr, 330, 114, 80, "宛名番号");
		cell(cr, 410, 114, 110, shown);
		break;
	case HEADER:
		/* a header row naming the columns, the numbers below */
		if (hk) {
			cell(cr, 220, 96, 110, "世帯主番号");
			cell(cr, 220, 114, 110, hshown);
		}
		cell(cr, 330, 96, 110, "宛名番号");
		cell(cr, 330, 114, 110, shown);
		break;
	}
}

static void page(cairo_t *cr, enum style st, int key_every, int markers, const struct resident *rs,
		 const struct resident *r, int pageno)
{
	char b[256];

	cairo_set_source_rgb(cr, 0, 0, 0);
	text(cr, 60, 60, 9, "発行番号 20240615");   /* 8 digits on every page: not a key */
	text(cr, 330, 60, 9, "令和6年6月15日");
	if (key_every || pageno == 0)
		numbers(cr, st, rs, r);
	if (pageno == 0) {
		snprintf(b, sizeof b, "%s %s 様", family_names[r->family], given_names[r->given]);
		text(cr, 60, 160, 16, b);
		text(cr, 60, 200, 16, "令和6年度 国民健康保険料 納入通知書");
		for (int i = 0; i < 4; i++) {
			long amount = 12345L * (i + 1) + (long)rnd(90000);
			snprintf(b, sizeof b, "第%d期  %ld,%03ld 円", i + 1, amount / 1000, amount % 1000);
			cell(cr, 60, 250 + 20 * i, 300, b);
		}
		text(cr, 60, 360, 10, "問合せ先 保険年金課 電話 03-1234-5678 〒100-0013");
	} else {
		text(cr, 60, 200, 14, "教示");
		text(cr, 60, 230, 10.5, "この処分に不服がある場合は、この処分があったことを知った日の");
		text(cr, 60, 246, 10.5, "翌日から起算して3か月以内に審査請求をすることができます。");
	}
	if (markers) {
		if (pageno % 2)
			snprintf(b, sizeof b, "%d／%d", pageno + 1, r->pages);
		else
			snprintf(b, sizeof b, "%d / %d ページ", pageno + 1, r->pages);
		text(cr, 500, 810, 8, b);
	}
	cairo_show_page(cr);
}

static int write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct resident rs[MAX_RES];
	char extra[4][16];
	int n, nextra, key_every, markers, multi = 0;
	enum style st;
	unsigned long seed;
	char *dir, *path;
	GString *csv, *man;
	cairo_surface_t *surf;
	cairo_t *cr;
	int order[MAX_RES + 4], norder = 0;

	if (argc != 3 || (seed = strtoul(argv[1], NULL, 10)) == 0) {
		fprintf(stderr, "usage: gen_batch SEED OUTDIR (SEED >= 1)\n");
		return 2;
	}
	rng_state = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed * 0x100000001B3ULL);
	for (int i = 0; i < 4; i++)
		rnd(2);
	n = 8 + (int)rnd(13);
	st = rnd(10) < 4 ? INLINE : rnd(10) < 7 ? CELLS : HEADER;
	key_every = (int)rnd(2);
	markers = rnd(10) < 7;
	for (int i = 0; i < n; i++) {
		struct resident *r = &rs[i];
		snprintf(r->key, sizeof r->key, "%08u", 10000 + 37 * (unsigned)i + rnd(30));
		r->in_csv = rnd(6) != 0;
		r->pages = 1 + (int)rnd(3);
		r->fullwidth = rnd(4) == 0;
		r->family = (int)rnd(G_N_ELEMENTS(family_names));
		r->given = (int)rnd(G_N_ELEMENTS(given_names));
		r->head = -1;
		if (rnd(4) == 0 && i > 0) {
			r->head = rnd(3) == 0 ? -2 : (int)rnd((uint32_t)i);
			snprintf(r->outsider, sizeof r->outsider, "%08u", 30000 + rnd(9000));
		}
		multi += r->pages > 1;
	}
	rs[rnd((uint32_t)n)].in_csv = 0; /* at least one resident missing from the CSV */
	if (!key_every && !markers && multi < 2)
		markers = 1; /* nothing would say the keyless pages follow on */
	nextra = (int)rnd(4);
	for (int i = 0; i < nextra; i++)
		snprintf(extra[i], sizeof extra[i], "%08u", 50000 + 97 * (unsigned)i + rnd(40));

	dir = g_build_filename(argv[2], "batch", NULL);
	g_mkdir_with_parents(dir, 0700);
	path = g_build_filename(dir, "notices.pdf", NULL);
	surf = cairo_pdf_surface_create(path, 595.28, 841.89);
	cr = cairo_create(surf);
	cairo_select_font_face(cr, "IPAGothic", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	for (int i = 0; i < n; i++)
		for (int p = 0; p < rs[i].pages; p++)
			page(cr, st, key_every, markers, rs, &rs[i], p);
	cairo_destroy(cr);
	cairo_surface_finish(surf);
	if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
		fprintf(stderr, "gen_batch: %s: %s\n", path,
			cairo_status_to_string(cairo_surface_status(surf)));
		return 1;
	}
	cairo_surface_destroy(surf);
	g_free(path);

	/* The CSV, its rows shuffled, extra rows among them. */
	for (int i = 0; i < n; i++)
		if (rs[i].in_csv)
			order[norder++] = i;
	for (int i = 0; i < nextra; i++)
		order[norder++] = MAX_RES + i;
	for (int i = norder - 1; i > 0; i--) {
		int j = (int)rnd((uint32_t)i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	csv = g_string_new("宛名番号,氏名,メールアドレス\r\n");
	for (int k = 0; k < norder; k++) {
		const char *key = order[k] >= MAX_RES ? extra[order[k] - MAX_RES] : rs[order[k]].key;
		const char *fam = order[k] >= MAX_RES ? "居ない" : family_names[rs[order[k]].family];
		const char *giv = order[k] >= MAX_RES ? "三郎" : given_names[rs[order[k]].given];
		if (rnd(3) == 0)
			g_string_append_printf(csv, "%ld,", strtol(key, NULL, 10)); /* Excel */
		else
			g_string_append_printf(csv, "%s,", key);
		g_string_append_printf(csv, "%s %s,r%s@example.jp\r\n", fam, giv, key);
	}
	path = g_build_filename(dir, "list.csv", NULL);
	if (rnd(2)) {
		gsize outlen = 0;
		gchar *cp = g_convert(csv->str, (gssize)csv->len, "CP932", "UTF-8", NULL, &outlen, NULL);
		if (!cp || write_file(path, cp, outlen) < 0)
			return 1;
		g_free(cp);
	} else if (write_file(path, csv->str, csv->len) < 0) {
		return 1;
	}
	g_free(path);

	man = g_string_new("");
	g_string_append_printf(man, "style %s\nkeys %s\nmarkers %s\n",
			       st == INLINE ? "inline" : st == CELLS ? "cells" : "header",
			       key_every ? "every" : "first", markers ? "yes" : "no");
	for (int i = 0; i < n; i++) {
		const char *hk = head_key(rs, &rs[i]);
		g_string_append_printf(man, "resident %s %d %d %s\n", rs[i].key, rs[i].in_csv,
				       rs[i].pages, hk ? hk : "-");
	}
	for (int i = 0; i < nextra; i++)
		g_string_append_printf(man, "extra %s\n", extra[i]);
	path = g_build_filename(argv[2], "manifest.txt", NULL);
	if (write_file(path, man->str, man->len) < 0)
		return 1;
	g_free(path);
	g_free(dir);
	g_string_free(csv, TRUE);
	g_string_free(man, TRUE);
	return 0;
}
