/*
 * gen_corpus.c — makes the benchmark and test corpus for `tayori pdf split`:
 * one multi-page PDF of printed notices (Japanese text in an embedded,
 * subsetted CID font with a ToUnicode map, the resident's key on every page)
 * and the matching recipients CSV as Excel writes it (CP932, CRLF, some
 * leading zeros of the key dropped).
 *
 * A test and benchmark tool, not part of the product; it runs on the
 * developer's or CI's machine.  Cairo's PDF surface (ISO 32000-1) does the
 * font embedding; the font is IPAGothic from Debian's fonts-ipafont-gothic.
 *
 * Usage: gen_corpus [-p PAGES_PER_RESIDENT] [-k every|first] OUTDIR [N]
 * Writes OUTDIR/corpus.pdf and OUTDIR/corpus.csv, and prints nothing.
 * Residents are numbered 0..N-1; resident i has the key
 * gen_key(i) = 00010000 + 37 i (8 digits), printed in full-width digits for
 * every fifth resident.  Every third CSV row loses its leading zeros.
 */
#include <cairo.h>
#include <cairo-pdf.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *family_names[] = {
	"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
	"吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林", "斎藤", "清水",
	"山崎", "森", "池田", "橋本", "阿部", "石川", "山下", "中島", "石井", "小川",
	"前田", "岡田", "長谷川", "藤田", "後藤", "近藤", "村上", "遠藤", "青木", "坂本",
};
static const char *given_names[] = {
	"太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔太", "結衣", "大輔", "さくら",
	"誠", "愛", "拓也", "由美", "直樹", "恵子", "浩", "真由美", "隆", "明美",
	"蓮", "葵", "湊", "凛", "悠真", "芽依", "大和", "杏", "樹", "紬",
};
static const char *towns[] = {
	"東京都千代田区千代田一丁目", "東京都港区芝公園四丁目", "東京都新宿区西新宿二丁目",
	"東京都世田谷区太子堂三丁目", "東京都練馬区豊玉北六丁目", "東京都大田区蒲田五丁目",
};

static unsigned long gen_key(int i) { return 10000UL + 37UL * (unsigned long)i; }

/* ASCII digits to full-width (U+FF10..U+FF19), as some ward systems print them. */
static void fullwidth(const char *ascii, char *out, size_t outsize)
{
	size_t o = 0;
	for (const char *p = ascii; *p && o + 4 < outsize; p++) {
		if (*p >= '0' && *p <= '9') {
			/* U+FF10 + d in UTF-8: EF BC 90+d */
			out[o++] = (char)0xEF;
			out[o++] = (char)0xBC;
			out[o++] = (char)(0x90 + (*p - '0'));
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void line(cairo_t *cr, double x, double y, double size, const char *text)
{
	cairo_set_font_size(cr, size);
	cairo_move_to(cr, x, y);
	cairo_show_text(cr, text);
}

static void page(cairo_t *cr, int i, int pageno, int npages, int with_key)
{
	char key[16], keyshown[64], buf[512];
	unsigned long k = gen_key(i);
	const char *fam = family_names[(unsigned)i % G_N_ELEMENTS(family_names)];
	const char *giv = given_names[((unsigned)i / 7) % G_N_ELEMENTS(given_names)];
	double y = 60;

	snprintf(key, sizeof key, "%08lu", k);
	if (i % 5 == 4)
		fullwidth(key, keyshown, sizeof keyshown);
	else
		snprintf(keyshown, sizeof keyshown, "%s", key);

	cairo_set_source_rgb(cr, 0, 0, 0);
	if (with_key) {
		snprintf(buf, sizeof buf, "宛名番号 %s", keyshown);
		line(cr, 400, y, 10, buf);
	}
	/* A document number whose digit run contains the key: matching must
	 * respect digit boundaries and not find the key inside it. */
	snprintf(buf, sizeof buf, "文書番号 R6-%s%d", key, pageno + 1);
	line(cr, 400, y + 14, 8, buf);
	snprintf(buf, sizeof buf, "%d / %d ページ", pageno + 1, npages);
	line(cr, 500, 820, 8, buf);

	if (pageno == 0) {
		snprintf(buf, sizeof buf, "〒100-%04d", (i * 13) % 10000);
		line(cr, 60, y + 40, 11, buf);
		snprintf(buf, sizeof buf, "%s%d番%d号", towns[(unsigned)i % G_N_ELEMENTS(towns)],
		         i % 30 + 1, i % 12 + 1);
		line(cr, 60, y + 56, 11, buf);
		snprintf(buf, sizeof buf, "%s %s 様", fam, giv);
		line(cr, 60, y + 80, 16, buf);
		line(cr, 150, y + 140, 18, "令和6年度 特別区民税・都民税 税額決定通知書");
		y += 180;
		line(cr, 60, y, 10.5, "地方税法第三百十九条の二の規定により、あなたの令和6年度の特別区民税・");
		line(cr, 60, y + 16, 10.5, "都民税の税額を次のとおり決定しましたので通知します。");
		y += 50;
		static const char *rows[] = { "総所得金額", "所得控除額", "課税標準額", "税額控除額",
			                      "特別区民税", "都民税", "年税額" };
		for (size_t r = 0; r < G_N_ELEMENTS(rows); r++) {
			long amount = 12345L * (long)(r + 1) + 1000L * (i % 97);
			cairo_rectangle(cr, 60, y - 12, 470, 18);
			cairo_set_line_width(cr, 0.5);
			cairo_stroke(cr);
			line(cr, 70, y + 1, 10.5, rows[r]);
			snprintf(buf, sizeof buf, "%ld,%03ld 円", amount / 1000, amount % 1000);
			line(cr, 400, y + 1, 10.5, buf);
			y += 18;
		}
		y += 30;
		line(cr, 60, y, 10.5, "納期限までに納付してください。口座振替の方は指定の口座から引き落とします。");
		line(cr, 60, y + 16, 10.5, "この通知書は電子署名付きPDFとして交付しています。");
		line(cr, 60, y + 32, 10.5, "問合せ先 課税課 電話 03-1234-5678（平日午前8時30分から午後5時）");
	} else {
		line(cr, 60, y + 60, 14, "教示");
		static const char *kyoji[] = {
			"1 この処分に不服がある場合は、この処分があったことを知った日の翌日から起算して",
			"3か月以内に、区長に対して審査請求をすることができます。",
			"2 この処分の取消しの訴えは、この処分があったことを知った日から6か月以内に、",
			"区を被告として（訴訟において区を代表する者は区長となります。）提起することが",
			"できます。ただし、審査請求をした場合には、その審査請求に対する裁決があった",
			"ことを知った日から6か月以内に提起することができます。",
			"3 ただし、上記の期間が経過する前に、この処分（審査請求をした場合には、その",
			"審査請求に対する裁決）があった日から1年を経過した場合は、審査請求をすることや",
			"処分の取消しの訴えを提起することができなくなります。",
		};
		for (size_t r = 0; r < G_N_ELEMENTS(kyoji); r++)
			line(cr, 60, y + 90 + 16 * (double)r, 10.5, kyoji[r]);
		snprintf(buf, sizeof buf, "%s %s 様 控", fam, giv);
		line(cr, 60, 760, 10, buf);
	}
	cairo_show_page(cr);
}

static int write_csv(const char *path, int n)
{
	GString *s = g_string_new("宛名番号,氏名,メールアドレス\r\n");
	gsize outlen = 0;
	GError *err = NULL;
	gchar *cp932;
	FILE *f;
	int rc = -1;

	for (int i = 0; i < n; i++) {
		unsigned long k = gen_key(i);
		const char *fam = family_names[(unsigned)i % G_N_ELEMENTS(family_names)];
		const char *giv = given_names[((unsigned)i / 7) % G_N_ELEMENTS(given_names)];
		/* Excel drops the leading zeros of a number-looking cell. */
		if (i % 3 == 1)
			g_string_append_printf(s, "%lu,", k);
		else
			g_string_append_printf(s, "%08lu,", k);
		g_string_append_printf(s, "%s %s,", fam, giv);
		if (i % 50 == 49)
			g_string_append(s, "\r\n"); /* no address: paper */
		else
			g_string_append_printf(s, "r%08lu@example.jp\r\n", k);
	}
	cp932 = g_convert(s->str, (gssize)s->len, "CP932", "UTF-8", NULL, &outlen, &err);
	if (!cp932) {
		fprintf(stderr, "gen_corpus: CP932 conversion failed: %s\n", err->message);
		g_error_free(err);
		goto out;
	}
	f = fopen(path, "wb");
	if (!f || fwrite(cp932, 1, outlen, f) != outlen || fclose(f) != 0) {
		perror(path);
		goto out;
	}
	rc = 0;
out:
	g_free(cp932);
	g_string_free(s, TRUE);
	return rc;
}

int main(int argc, char **argv)
{
	int per = 2, key_every = 1, n = 5000, opt;
	char *pdfpath, *csvpath;
	cairo_surface_t *surf;
	cairo_t *cr;
	cairo_status_t st;

	while ((opt = getopt(argc, argv, "p:k:")) != -1) {
		switch (opt) {
		case 'p':
			per = (int)strtol(optarg, NULL, 10);
			break;
		case 'k':
			key_every = strcmp(optarg, "first") != 0;
			break;
		default:
			goto usage;
		}
	}
	if (optind >= argc || argc - optind > 2 || per < 1 || per > 100)
		goto usage;
	if (argc - optind == 2) {
		char *end;
		long v = strtol(argv[optind + 1], &end, 10);
		if (*end || v < 1 || v > 1000000)
			goto usage;
		n = (int)v;
	}
	pdfpath = g_build_filename(argv[optind], "corpus.pdf", NULL);
	csvpath = g_build_filename(argv[optind], "corpus.csv", NULL);

	surf = cairo_pdf_surface_create(pdfpath, 595.28, 841.89);
	cr = cairo_create(surf);
	cairo_select_font_face(cr, "IPAGothic", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
	for (int i = 0; i < n; i++)
		for (int p = 0; p < per; p++)
			page(cr, i, p, per, key_every || p == 0);
	cairo_destroy(cr);
	cairo_surface_finish(surf);
	st = cairo_surface_status(surf);
	cairo_surface_destroy(surf);
	if (st != CAIRO_STATUS_SUCCESS) {
		fprintf(stderr, "gen_corpus: %s: %s\n", pdfpath, cairo_status_to_string(st));
		return 1;
	}
	if (write_csv(csvpath, n) < 0)
		return 1;
	g_free(pdfpath);
	g_free(csvpath);
	return 0;
usage:
	fprintf(stderr, "usage: gen_corpus [-p PAGES_PER_RESIDENT] [-k every|first] OUTDIR [N_RESIDENTS]\n");
	return 2;
}
