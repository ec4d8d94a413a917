/*
 * staff_upload.c — a batch uploaded from the dashboard (see
 * staff_upload.h): the form; the POST, read with the multipart reader
 * (http_multipart.h), checked against the intake limits and the same
 * clean-text rules as a settings line (lib/text.h), the CSV and PDFs told
 * apart by name and by their first bytes (the portal reads no PDF: that
 * is the gateway's job), then stored as one sealed pending upload with
 * the staff member as submitter (lib/upload.h) for the gateway to take as
 * intake takes a dropped folder; and the page that shows what became of
 * it.  A refusal gets the form again with one Japanese sentence saying
 * what and where, is audited (upload.refuse), and stores nothing.  Runs in
 * the portal process, with the store lock held.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/log.h"
#include "lib/text.h"
#include "lib/upload.h"
#include "lib/wardset.h"
#include "portal/http_multipart.h"
#include "portal/page_staff_upload.h"
#include "portal/staff_int.h"
#include "portal/staff_upload.h"

#define KYOUJI_MAX 2000      /* characters of a 教示, as gateway/settings.h allows */
#define MP_HEADER_MAX 8192   /* bytes of one part's header block */
#define MP_FIELD_NAME_MAX 64 /* bytes of a field name (ours are short) */
#define MP_FILENAME_RAW_MAX 1024

/* The form's text fields (owned, NUL-terminated; "" when not sent). */
struct upload_form {
	char *title, *split, *pages, *kyouji, *message, *notice_type;
	int test, consent;
	char *types;        /* the ward's notice types (lib/wardset.h), owned; NULL none */
	char error[600];
	const char *reason; /* for the audit record: no personal data */
};

static void form_free(struct upload_form *f)
{
	free(f->title), free(f->split), free(f->pages), free(f->kyouji), free(f->message);
	free(f->notice_type), free(f->types);
	memset(f, 0, sizeof(*f));
}

static int refuse(struct upload_form *f, const char *reason, const char *fmt, ...) PRINTF_LIKE(3, 4);
static int refuse(struct upload_form *f, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->error, sizeof(f->error), fmt, ap);
	va_end(ap);
	f->reason = reason;
	return -1;
}

/* A text field's value, checked as lib/text.h checks a setting; -1 with
 * the form's error set. */
static int text_field(const struct http_multipart *m, const char *name, const char *label,
		      enum text_kind kind, size_t max_chars, char **out, struct upload_form *f)
{
	const struct http_part *p = http_multipart_get(m, name, 0);
	struct text_problem tp;
	const char *v;
	size_t n;

	*out = xstrdup("");
	if (p == NULL || p->len == 0)
		return 0;
	if (p->len > max_chars * 4 + 16)
		return refuse(f, "too_long", "「%s」は %zu 文字以内で入力してください。", label, max_chars);
	free(*out);
	*out = xstrndup((const char *)p->data, p->len);
	v = *out;
	n = strlen(v);
	if (n != p->len || !g_utf8_validate(v, (gssize)n, NULL))
		return refuse(f, "bad_text", "「%s」に読み取れない文字があります。", label);
	if ((size_t)g_utf8_strlen(v, (gssize)n) > max_chars)
		return refuse(f, "too_long", "「%s」は %zu 文字以内で入力してください。", label, max_chars);
	if (kind == TEXT_LINE && strpbrk(v, "\r\n\t") != NULL)
		return refuse(f, "line_break", "「%s」には改行やタブを入れられません。1 行で入力してください。",
			      label);
	if (text_check(v, kind, max_chars, &tp) < 0)
		return refuse(f, "bad_text", "「%s」に使えない文字（制御文字や、文字の向きを変える記号など）があります。",
			      label);
	return 0;
}

static int read_fields(const struct http_multipart *m, struct upload_form *f)
{
	static const char *const splits[] = { "", "auto", "pages", "per-file", "common" };
	size_t i;

	f->test = http_multipart_get(m, "test", 0) != NULL;
	f->consent = http_multipart_get(m, "consent", 0) != NULL;
	if (text_field(m, "title", "通知名（件名）", TEXT_LINE, TEXT_TITLE_MAX, &f->title, f) < 0 ||
	    text_field(m, "split", "PDF の分け方", TEXT_LINE, 16, &f->split, f) < 0 ||
	    text_field(m, "pages", "1 人あたりのページ数", TEXT_LINE, 8, &f->pages, f) < 0 ||
	    text_field(m, "kyouji", "教示", TEXT_LINE, KYOUJI_MAX, &f->kyouji, f) < 0 ||
	    text_field(m, "message", "区民へのメッセージ", TEXT_BODY, TEXT_MESSAGE_MAX, &f->message, f) < 0 ||
	    text_field(m, "type", "通知の種類", TEXT_LINE, WARDSET_TYPE_NAME_MAX, &f->notice_type, f) < 0)
		return -1;
	if (f->title[0] == '\0')
		return refuse(f, "no_title", "「通知名（件名）」を入力してください。");
	/* The gateway checks again (gateway/batch.c); this is the clerk's sentence. */
	if (f->notice_type[0] != '\0' &&
	    (f->types == NULL || !wardset_type_known(f->types, f->notice_type)))
		return refuse(f, "bad_type", "「通知の種類」は、区の設定に登録された種類から選んでください。");
	for (i = 0; i < sizeof(splits) / sizeof(splits[0]); i++)
		if (strcmp(f->split, splits[i]) == 0)
			break;
	if (i == sizeof(splits) / sizeof(splits[0]))
		return refuse(f, "bad_split", "「PDF の分け方」の選択が正しくありません。選び直してください。");
	if (strcmp(f->split, "pages") == 0) {
		int64_t n;
		if (parse_int64(f->pages, 1, 10000, &n) < 0)
			return refuse(f, "bad_pages", "「1 人あたりのページ数」に 1 から 10000 までの数を入れてください。");
	}
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The files chosen in field name (a file input left empty is skipped). */
static size_t chosen(const struct http_multipart *m, const char *name, const struct http_part **v,
		     size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct http_part *p = &m->parts[i];
		if (strcmp(p->name, name) != 0 || p->filename == NULL ||
		    (p->filename[0] == '\0' && p->len == 0))
			continue;
		if (n < max)
			v[n] = p;
		n++;
	}
	return n;
}

/* One file of the upload: its name and first bytes say what it is. */
static int check_file(const struct http_part *p, const char *label, const char *ext,
		      struct upload_form *f)
{
	const char *name = p->filename[0] ? p->filename : "（名前なし）";
	if (!has_suffix(p->filename, ext))
		return refuse(f, "bad_name", "「%s」のファイル「%s」は %s ではありません。", label, name, ext);
	if (p->len == 0)
		return refuse(f, "empty_file", "「%s」のファイル「%s」は空です。", label, name);
	/* A PDF starts with %PDF- within its first 1024 bytes (ISO 32000-2
	 * 7.5.2); the portal looks no further. */
	if (strcmp(ext, ".pdf") == 0 &&
	    memmem(p->data, p->len < 1024 ? p->len : 1024, "%PDF-", 5) == NULL)
		return refuse(f, "not_pdf", "「%s」のファイル「%s」は PDF ではありません（中身が PDF の形式ではありません）。",
			      label, name);
	return 0;
}

/* The CSV and the PDFs into files (1 + PDFs entries); -1 with the error. */
static int read_files(const struct staff_ctx *sc, const struct http_multipart *m,
		      struct upload_file *files, size_t *nfiles, struct upload_form *f)
{
	const struct http_part *csv[2], **pdfs = xcalloc(m->n + 1, sizeof(*pdfs));
	size_t ncsv = chosen(m, "csv", csv, 2), npdf = chosen(m, "pdfs", pdfs, m->n), total = 0;
	int r = -1;

	*nfiles = 0;
	if (ncsv != 1) {
		refuse(f, "csv_count", ncsv == 0 ? "「宛先 CSV」のファイルを選んでください。"
						 : "「宛先 CSV」には 1 ファイルだけ選んでください。");
		goto out;
	}
	if (npdf == 0) {
		refuse(f, "no_pdf", "「通知の PDF」のファイルを選んでください。");
		goto out;
	}
	if (1 + npdf > sc->upload_files) {
		refuse(f, "too_many", "ファイルが多すぎます（%zu 件。上限は %zu 件です）。", 1 + npdf,
		       sc->upload_files);
		goto out;
	}
	if (check_file(csv[0], "宛先 CSV", ".csv", f) < 0)
		goto out;
	files[0] = (struct upload_file){ csv[0]->filename, csv[0]->data, csv[0]->len };
	total = csv[0]->len;
	for (size_t i = 0; i < npdf; i++) {
		if (check_file(pdfs[i], "通知の PDF", ".pdf", f) < 0)
			goto out;
		/* Names match PDFs to residents: two alike would be ambiguous. */
		for (size_t j = 0; j <= i; j++)
			if (strcmp(j == i ? csv[0]->filename : pdfs[j]->filename, pdfs[i]->filename) == 0) {
				refuse(f, "same_name", "同じ名前のファイル「%s」が 2 つあります。名前を変えてください。",
				       pdfs[i]->filename);
				goto out;
			}
		files[1 + i] = (struct upload_file){ pdfs[i]->filename, pdfs[i]->data, pdfs[i]->len };
		total += pdfs[i]->len;
	}
	if (total > sc->upload_max) {
		/* In MB, or in KB under a megabyte, rounded up and down so that
		 * the two never read the same. */
		size_t unit = sc->upload_max >= (1u << 20) ? 1u << 20 : 1u << 10;
		refuse(f, "too_large", "ファイルが大きすぎます（合わせて %zu %s。上限は %zu %s です）。",
		       (total + unit - 1) / unit, unit > 1024 ? "MB" : "KB", sc->upload_max / unit,
		       unit > 1024 ? "MB" : "KB");
		goto out;
	}
	*nfiles = 1 + npdf;
	r = 0;
out:
	free(pdfs);
	return r;
}

/* message.txt as a dropped folder would carry it: the settings lines, a
 * blank line, the message (lines a settings reader reads as the gateway
 * does, gateway/settings.h). */
static char *message_txt(const struct upload_form *f)
{
	GString *s = g_string_new(NULL);
	char *out;

	g_string_append_printf(s, "件名: %s\n", f->title);
	if (strcmp(f->split, "auto") == 0)
		g_string_append(s, "分割: 自動\n");
	else if (strcmp(f->split, "pages") == 0)
		g_string_append_printf(s, "分割: %sページ\n", f->pages);
	else if (strcmp(f->split, "per-file") == 0)
		g_string_append(s, "分割: ファイル別\n");
	else if (strcmp(f->split, "common") == 0)
		g_string_append(s, "分割: 共通\n");
	g_string_append_printf(s, "テスト: %s\n", f->test ? "はい" : "いいえ");
	if (f->notice_type != NULL && f->notice_type[0] != '\0')
		g_string_append_printf(s, "種類: %s\n", f->notice_type);
	if (f->kyouji[0] != '\0')
		g_string_append_printf(s, "教示: %s\n", f->kyouji);
	g_string_append_printf(s, "同意: %s\n\n%s", f->consent ? "はい" : "いいえ", f->message);
	out = xstrdup(s->str);
	g_string_free(s, TRUE);
	return out;
}

static int show_form(const struct staff_ctx *sc, struct http_response *resp,
		     const struct staff_who *w, const struct upload_form *f)
{
	struct page_upload_form pf = {
		f->title ? f->title : "", f->split ? f->split : "", f->pages ? f->pages : "",
		f->kyouji ? f->kyouji : "", f->message ? f->message : "", f->test, f->consent,
		f->error, sc->upload_max, sc->upload_files,
		f->notice_type ? f->notice_type : "", f->types ? f->types : "",
	};
	return page_staff_upload_form(&resp->body, &w->u, &pf);
}

/* The ward's notice types into f->types (NULL when none are set). */
static int load_types(const struct staff_ctx *sc, struct upload_form *f)
{
	struct wardset *ws = xcalloc(1, sizeof(*ws));
	struct error e = { { 0 }, 0 };
	int r = wardset_load(sc->st, ws, &e);

	if (r < 0)
		log_err("event=upload_types_failed reason=\"%s\"", e.msg);
	else if (r == 0 && ws->notice_types[0] != '\0')
		f->types = xstrdup(ws->notice_types);
	free(ws);
	return r < 0 ? -1 : 0;
}

int staff_h_upload_form(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct upload_form f;
	int r = staff_guard(sc, req, resp, PERM_SUBMIT, "一括送信の登録", "upload", &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	memset(&f, 0, sizeof(f));
	r = load_types(sc, &f) < 0 ? -1 : show_form(sc, resp, &w, &f);
	form_free(&f);
	return r;
}

/* The multipart body into m; -1 with the form's error. */
static int read_body(const struct staff_ctx *sc, const struct http_request *req,
		     struct http_multipart *m, struct upload_form *f)
{
	struct http_mp_limits lim = { sc->upload_files + 16, MP_HEADER_MAX, MP_FIELD_NAME_MAX,
				      MP_FILENAME_RAW_MAX };
	struct error e = { { 0 }, 0 };
	int r = http_multipart_parse(req->content_type, req->body, req->body_len, &lim, m, &e);

	if (r == 0)
		return 0;
	log_info("event=upload_unreadable reason=\"%s\"", e.msg);
	if (r == HTTP_MP_TOO_MANY)
		return refuse(f, "too_many", "ファイルが多すぎます（上限は %zu 件です）。", sc->upload_files);
	if (r == HTTP_MP_FILENAME)
		return refuse(f, "bad_filename", "「%s」に選んだファイルの名前が使えません（「..」だけの名前など）。"
				  "名前を変えてから選び直してください。",
			      strcmp(m->bad_field, "csv") == 0 ? "宛先 CSV" : "通知の PDF");
	if (r == HTTP_MP_TOO_LONG)
		return refuse(f, "too_long", "ファイル名などが長すぎます。短い名前にしてから選び直してください。");
	return refuse(f, "malformed", "送られた内容を読み取れませんでした。このページを開き直して、もう一度送ってください。");
}

/* Store the checked upload; *id its number. */
static int store_upload(struct staff_ctx *sc, const struct http_request *req,
			const struct staff_who *w, const struct upload_form *f,
			struct upload_file *files, size_t n, uint64_t *id)
{
	struct error e = { { 0 }, 0 };
	struct upload u;
	int r;

	memset(&u, 0, sizeof(u));
	u.staff = w->s.id;
	u.created = now_utc();
	str_copy(u.from, req->client_ip, sizeof(u.from));
	u.message = message_txt(f);
	u.files = files;
	u.nfiles = n;
	r = upload_add(sc->st, sc->data_dir, &u, id, &e);
	if (r < 0)
		log_err("event=upload_not_stored reason=\"%s\"", e.msg);
	else
		log_info("event=upload_received upload=%llu actor=%s files=%zu",
			 (unsigned long long)*id, w->actor, n);
	secure_wipe(u.message, strlen(u.message));
	free(u.message);
	return r;
}

/* The login, the submit permission and the CSRF token (in the action
 * URL): 0 go on, 1 answered (refusals audited), -1 error. */
static int upload_allowed(struct staff_ctx *sc, const struct http_request *req,
			  struct http_response *resp, struct staff_who *w)
{
	int r = staff_guard(sc, req, resp, PERM_SUBMIT, "一括送信の登録", "upload", w);

	if (r != 0)
		return r;
	/* The route is HTTP_CSRF_OWN so that a refusal is audited too. */
	if (http_csrf_check(req) != 0) {
		staff_audit(sc, w->actor, "staff.csrf_refused", "upload", req->client_ip, "upload");
		resp->status = 403;
		return page_staff_note(&resp->body, &w->u, "送信を受け付けられません",
				       "画面が古いか、このサイトの画面から送られたものではありません。"
				       "アップロードの画面を開き直して、もう一度操作してください。",
				       "/upload", "アップロードの画面へ") < 0 ? -1 : 1;
	}
	return 0;
}

int staff_h_upload_early(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_who w;
	int r = upload_allowed(ctx, req, resp, &w);

	secure_wipe(&w, sizeof(w));
	return r;
}

int staff_h_upload(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct staff_who w;
	struct upload_form f;
	struct http_multipart m;
	struct upload_file *files = NULL;
	size_t n = 0;
	uint64_t id = 0;
	char loc[48], detail[64];
	int r = upload_allowed(sc, req, resp, &w);

	if (r != 0)
		return r < 0 ? -1 : 0;
	memset(&f, 0, sizeof(f));
	memset(&m, 0, sizeof(m));
	if (load_types(sc, &f) < 0)
		return -1;
	if (read_body(sc, req, &m, &f) == 0 && read_fields(&m, &f) == 0) {
		files = xcalloc(m.n + 1, sizeof(*files));
		if (read_files(sc, &m, files, &n, &f) == 0) {
			r = store_upload(sc, req, &w, &f, files, n, &id);
			if (r == 0) {
				str_fmt(loc, sizeof(loc), "/upload/%llu", (unsigned long long)id);
				r = http_resp_redirect(resp, loc);
			}
			goto out;
		}
	}
	str_fmt(detail, sizeof(detail), "reason=%s", f.reason ? f.reason : "?");
	staff_audit(sc, w.actor, "upload.refuse", "upload", req->client_ip, detail);
	resp->status = 400;
	r = show_form(sc, resp, &w, &f);
out:
	free(files);
	http_multipart_free(&m);
	form_free(&f);
	return r;
}

int staff_h_upload_status(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct upload_result res;
	uint64_t id = 0;
	char target[40];
	int r, known = staff_batch_id(req->subpath, &id) == 0;

	str_fmt(target, sizeof(target), "upload:%llu", (unsigned long long)id);
	r = staff_guard(sc, req, resp, PERM_SUBMIT, "一括送信の登録", target, &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	r = known ? upload_result_get(sc->st, id, &res, &e) : 2;
	if (r < 0) {
		log_err("event=upload_status_failed upload=%llu reason=\"%s\"", (unsigned long long)id, e.msg);
		return -1;
	}
	if (r == 1) {
		/* The browser asks again by itself; no script needed. */
		http_resp_header(resp, "Refresh", "3");
		return page_staff_upload_pending(&resp->body, &w.u, id);
	}
	/* Only the uploader sees what became of an upload. */
	if (r == 2 || res.staff != w.s.id) {
		if (r == 0)
			upload_result_free(&res);
		resp->status = 404;
		return page_staff_note(&resp->body, &w.u, "アップロードが見つかりません",
				       "指定されたアップロードはありません（結果は 7 日間だけ表示できます）。",
				       "/upload", "アップロードの画面へ");
	}
	r = page_staff_upload_result(&resp->body, &w.u, &res);
	upload_result_free(&res);
	return r;
}
