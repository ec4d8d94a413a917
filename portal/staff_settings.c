/*
 * staff_settings.c — the dashboard's settings page (GET and POST
 * /settings): the ward's settings staff may change (lib/wardset.h), for
 * those who manage users (the administrators: the same people who decide
 * who may send).  Each field is checked on its own and answered with one
 * Japanese sentence saying what is wrong and how to write it; with any
 * field wrong nothing is saved (400, the form again as typed).  A save is
 * audited (settings.change, the fields changed) in its own transaction;
 * a refusal of the permission or the CSRF check is audited too.  Runs
 * with the store lock held, in the portal process.
 */
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/email.h"
#include "lib/log.h"
#include "lib/remind.h"
#include "lib/text.h"
#include "lib/wardset.h"
#include "portal/page_staff_settings.h"
#include "portal/staff_int.h"

#define TESTS_MAX 16 /* the mailer keeps 16 (mailer/send.h SEND_TEST_MAX) */
#define TYPES_MAX 50

/* Clean text of at most max characters: 0, or -1 with why in err. */
static int clean(const char *v, enum text_kind kind, size_t max, char *err, size_t size)
{
	struct text_problem p;

	if (text_check(v, kind, max, &p) == 0)
		return 0;
	if (strstr(p.what, "long") != NULL || strstr(p.what, "more than") != NULL)
		str_fmt(err, size, "%zu 文字以内で入力してください。", max);
	else
		str_fmt(err, size, "%zu 行目に使えない文字（制御文字や文字の向きを変える記号など）が"
			"あります。取り除いてください。", p.line ? p.line : 1);
	return -1;
}

static int check_reminders(const char *v, char *err, size_t size)
{
	struct remind_schedule rs;
	struct error e = { { 0 }, 0 };

	if (clean(v, TEXT_LINE, WARDSET_REMINDERS_MAX, err, size) < 0)
		return -1;
	if (remind_schedule_parse(v, &rs, &e) == 0)
		return 0;
	str_copy(err, "送信から何日後に督促するかを「3,7」のように、1～365 の数字をカンマで区切って"
		 "入力してください（8 回まで）。", size);
	return -1;
}

static int check_deadline(const char *v, uint32_t *days, char *err, size_t size)
{
	unsigned long n = 0;
	size_t len = strlen(v);

	*days = 0;
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9' || i >= 3)
			len = 0;
	if (len > 0)
		n = strtoul(v, NULL, 10);
	if (len == 0 || n < 1 || n > WARDSET_DEADLINE_DAYS_MAX) {
		str_copy(err, "送信から何日後を期限にするかを、1～365 の半角数字で入力してください。",
			 size);
		return -1;
	}
	*days = (uint32_t)n;
	return 0;
}

/* Addresses separated by commas, spaces or line breaks, each valid, at
 * most TESTS_MAX: written back as "a, b" (the mailer's form). */
static int check_tests(const char *v, char *out, size_t outsize, char *err, size_t size)
{
	const char *p = v;
	size_t n = 0;

	out[0] = '\0';
	if (clean(v, TEXT_BODY, WARDSET_TESTS_MAX, err, size) < 0)
		return -1;
	while (*p != '\0') {
		char one[256];
		size_t len = strcspn(p, ", \t\n");
		if (len >= sizeof(one)) {
			str_copy(err, "長すぎるアドレスがあります。", size);
			return -1;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		p += len + (p[len] != '\0');
		if (len == 0)
			continue;
		if (!email_valid(one)) {
			str_fmt(err, size, "「%.100s」はメールアドレスとして正しくありません。", one);
			return -1;
		}
		if (++n > TESTS_MAX) {
			str_fmt(err, size, "テスト用アドレスは %d 件までです。", TESTS_MAX);
			return -1;
		}
		size_t have = strlen(out);
		if (str_fmt(out + have, outsize - have, "%s%s", have ? ", " : "", one) < 0) {
			str_copy(err, "テスト用アドレスが長すぎます。", size);
			return -1;
		}
	}
	return 0;
}

/* One type a line: 名称｜根拠｜届かなかったときの扱い, three parts, none empty. */
static int check_types(const char *v, char *err, size_t size)
{
	size_t line = 0, n = 0;

	if (clean(v, TEXT_BODY, WARDSET_TYPES_MAX, err, size) < 0)
		return -1;
	for (const char *p = v; *p != '\0';) {
		size_t len = strcspn(p, "\n"), parts = 1, empty = 0, cur = 0;
		line++;
		for (size_t i = 0; i <= len; i++) {
			int bar = i < len && (p[i] == '|' || strncmp(p + i, "｜", 3) == 0);
			if (i == len || bar) {
				empty += cur == 0;
				cur = 0;
				parts += bar;
				i += bar && p[i] != '|' ? 2 : 0;
			} else if (p[i] != ' ') {
				cur++;
			}
		}
		if (len > 0 && (parts != 3 || empty > 0)) {
			str_fmt(err, size, "%zu 行目を「名称｜根拠となる法令・条例｜届かなかったときの扱い」"
				"の形で入力してください。", line);
			return -1;
		}
		n += len > 0;
		p += len + (p[len] != '\0');
	}
	if (n > TYPES_MAX) {
		str_fmt(err, size, "通知の種類は %d 種類までです。", TYPES_MAX);
		return -1;
	}
	return 0;
}

/* Check every field of the form into ws and s->error: the number wrong. */
static int check_all(struct page_staff_settings *s, struct wardset *ws)
{
	char (*er)[320] = s->error;
	int bad = 0;

	bad -= clean(s->value[SET_DESCRIPTION], TEXT_BODY, WARDSET_DESCRIPTION_MAX,
		     er[SET_DESCRIPTION], sizeof(er[0]));
	bad -= clean(s->value[SET_CONTACT], TEXT_BODY, WARDSET_CONTACT_MAX, er[SET_CONTACT],
		     sizeof(er[0]));
	bad -= check_reminders(s->value[SET_REMINDERS], er[SET_REMINDERS], sizeof(er[0]));
	bad -= check_deadline(s->value[SET_DEADLINE], &ws->deadline_days, er[SET_DEADLINE],
			      sizeof(er[0]));
	bad -= check_tests(s->value[SET_TESTS], ws->test_addresses, sizeof(ws->test_addresses),
			   er[SET_TESTS], sizeof(er[0]));
	bad -= check_types(s->value[SET_TYPES], er[SET_TYPES], sizeof(er[0]));
	if (bad == 0) {
		str_copy(ws->description, s->value[SET_DESCRIPTION], sizeof(ws->description));
		str_copy(ws->contact, s->value[SET_CONTACT], sizeof(ws->contact));
		str_copy(ws->reminders, s->value[SET_REMINDERS], sizeof(ws->reminders));
		str_copy(ws->notice_types, s->value[SET_TYPES], sizeof(ws->notice_types));
	}
	return bad;
}

/* The form filled from what is saved. */
static void from_saved(struct page_staff_settings *s, const struct wardset *ws, char *days,
		       size_t dsize, char *updated, size_t usize)
{
	days[0] = '\0';
	if (ws->deadline_days > 0)
		str_fmt(days, dsize, "%u", ws->deadline_days);
	s->value[SET_DESCRIPTION] = ws->description;
	s->value[SET_CONTACT] = ws->contact;
	s->value[SET_REMINDERS] = ws->reminders;
	s->value[SET_DEADLINE] = days;
	s->value[SET_TESTS] = ws->test_addresses;
	s->value[SET_TYPES] = ws->notice_types;
	updated[0] = '\0';
	if (ws->updated > 0) {
		char when[40];
		time_format_jst(ws->updated, when, sizeof(when));
		str_fmt(updated, usize, "%s（%s）", when, ws->updated_by);
	}
}

int staff_h_settings(const struct http_request *req, struct http_response *resp, void *ctx)
{
	struct staff_ctx *sc = ctx;
	struct error e = { { 0 }, 0 };
	struct staff_who w;
	struct wardset *ws = NULL;
	struct page_staff_settings *s = NULL;
	char days[16], updated[96];
	int post = strcmp(req->method, "POST") == 0, r;

	r = staff_guard(sc, req, resp, PERM_MANAGE_USERS, "設定の変更（ユーザー管理）", "settings", &w);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (post && http_csrf_check(req) != 0) {
		staff_audit(sc, w.actor, "staff.csrf_refused", "settings", req->client_ip, "settings");
		resp->status = 403;
		return page_staff_note(&resp->body, &w.u, "送信を受け付けられません",
				       "画面が古いか、このサイトの画面から送られたものではありません。"
				       "設定の画面を開き直して、もう一度操作してください。",
				       "/settings", "設定に戻る");
	}
	ws = xcalloc(1, sizeof(*ws));
	s = xcalloc(1, sizeof(*s));
	r = -1;
	if (wardset_load(sc->st, ws, &e) < 0)
		goto out;
	from_saved(s, ws, days, sizeof(days), updated, sizeof(updated));
	s->conf_contact = conf_str(sc->conf, "mail", "contact");
	s->conf_tests = conf_str(sc->conf, "mail", "test_addresses");
	s->updated = updated;
	s->saved = !post && http_query(req, "saved") != NULL;
	if (post) {
		for (int i = 0; i < SET_NFIELDS; i++) {
			const char *v = http_form(req, page_staff_settings_names[i]);
			s->value[i] = v != NULL ? v : "";
		}
		if (check_all(s, ws) > 0) {
			resp->status = 400;
			r = page_staff_settings(&resp->body, &w.u, s);
			goto out;
		}
		if (wardset_save(sc->st, ws, w.actor, req->client_ip, &e) < 0)
			goto out;
		r = http_resp_redirect(resp, "/settings?saved=1");
		goto out;
	}
	r = page_staff_settings(&resp->body, &w.u, s);
out:
	if (r < 0 && e.msg[0] != '\0')
		log_err("event=staff_settings_failed reason=\"%s\"", e.msg);
	free(ws);
	free(s);
	return r;
}
