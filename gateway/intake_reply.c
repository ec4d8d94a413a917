/*
 * intake_reply.c — the replies intake sends staff about a submission
 * (received with its report, refused with the reason, set aside), built
 * with GMime and queued in the outbox Maildir the mailer delivers from.
 * Runs in the gateway process.  Standards: RFC 5322 (the reply), RFC 3834
 * (Auto-Submitted), Maildir (tmp/ then new/).
 */
#include <errno.h>
#include <glib.h>
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/batch.h"
#include "gateway/intake_int.h"
#include "lib/intake_ja.h"
#include "lib/log.h"

static int maildir_deliver(const char *maildir, const char *text, size_t len, struct error *e)
{
	char name[128], tmp[4200], dst[4200];
	uint8_t r[8];
	char hex[17];

	random_bytes(r, sizeof(r));
	hex_encode(r, sizeof(r), hex);
	str_fmt(name, sizeof(name), "%lld.P%ldR%s.tayori", (long long)now_utc(), (long)getpid(), hex);
	if (str_fmt(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name) < 0 ||
	    str_fmt(dst, sizeof(dst), "%s/new/%s", maildir, name) < 0)
		return err_set(e, "outbox path too long");
	/* tmp/ then rename into new/: a reader never sees half a message. */
	if (file_write_atomic(tmp, text, len, 0600, e) < 0)
		return -1;
	if (rename(tmp, dst) < 0) {
		unlink(tmp);
		return err_tmp(e, "cannot queue the reply: %s", strerror(errno));
	}
	return 0;
}

static void send_reply(const struct intake_mailto *to, const char *subject, const char *text)
{
	GMimeMessage *msg = g_mime_message_new(TRUE);
	GMimeTextPart *body = g_mime_text_part_new_with_subtype("plain");
	GDateTime *now = g_date_time_new_now_utc();
	struct error e = { { 0 }, 0 };
	const char *irt = to->in_reply_to;
	char *wire;

	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, "tayori", to->from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, to->to);
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_mime_message_set_date(msg, now);
	{
		uint8_t r[12];
		char hex[25], mid[64];
		random_bytes(r, sizeof(r));
		hex_encode(r, sizeof(r), hex);
		str_fmt(mid, sizeof(mid), "%s@tayori", hex);
		g_mime_message_set_message_id(msg, mid);
	}
	if (irt != NULL && *irt != '\0' && strpbrk(irt, "\r\n<>") == NULL) {
		char ref[1024];
		if (str_fmt(ref, sizeof(ref), "<%s>", irt) >= 0) {
			g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", ref, NULL);
			g_mime_object_set_header(GMIME_OBJECT(msg), "References", ref, NULL);
		}
	}
	/* Replies about a batch must never start an auto-reply loop (RFC 3834). */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-replied", NULL);
	g_mime_text_part_set_text(body, text);
	g_mime_part_set_content_encoding(GMIME_PART(body), GMIME_CONTENT_ENCODING_BASE64);
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(body));
	wire = g_mime_object_to_string(GMIME_OBJECT(msg), NULL);
	if (wire == NULL || maildir_deliver(to->outbox, wire, strlen(wire), &e) < 0)
		log_err("event=reply_not_queued reason=\"%s\"", e.msg[0] ? e.msg : "cannot build it");
	g_free(wire);
	g_date_time_unref(now);
	g_object_unref(body);
	g_object_unref(msg);
}

void intake_reply_stored(const struct intake_mailto *to, const char *title,
			 const struct batch_report *rep)
{
	char subject[600], *text = NULL;
	size_t tlen = 0;
	FILE *fp = open_memstream(&text, &tlen);

	if (fp == NULL)
		return;
	fprintf(fp, "一括送信を受け付けました。承認されるまで区民には送信されません。\n"
		   "Your batch was received. Nothing is sent to residents until it is approved.\n\n"
		   "通知名 / title: %s\n\n", title);
	batch_report_text(rep, fp);
	fprintf(fp, "\n承認方法: ダッシュボードで承認するか、管理者が `tayori batch approve %llu` を実行します。\n"
		   "To approve: use the dashboard, or an administrator runs `tayori batch approve %llu`.\n",
		(unsigned long long)rep->batch, (unsigned long long)rep->batch);
	fclose(fp);
	str_fmt(subject, sizeof(subject), "[tayori] 受付 %llu: %s", (unsigned long long)rep->batch, title);
	if (text != NULL)
		send_reply(to, subject, text);
	free(text);
}

void intake_reply_refused(const struct intake_mailto *to, const char *subject, const char *why)
{
	char subj[600], ja[INTAKE_JA_MAX], *text = NULL;
	size_t tlen = 0;
	FILE *fp = open_memstream(&text, &tlen);

	if (fp == NULL)
		return;
	/* Clerks read this in their mail client: the reason in plain Japanese
	 * first, intake's English line kept below it for support. */
	intake_why_ja(why, ja, sizeof(ja));
	fprintf(fp, "一括送信を受け付けできませんでした。何も保存されていません。\n"
		   "Your batch was refused; nothing was stored.\n\n理由:\n  %s\n\n"
		   "詳しい説明（英語・問い合わせ用） / reason:\n  %s\n", ja, why);
	fclose(fp);
	str_fmt(subj, sizeof(subj), "[tayori] 受付できませんでした: %s",
		subject != NULL && *subject != '\0' ? subject : "(件名なし)");
	if (text != NULL)
		send_reply(to, subj, text);
	free(text);
}

void intake_reply_poison(const struct intake_mailto *to)
{
	send_reply(to, "[tayori] 受付できませんでした / set aside",
		   "一括送信の処理中にゲートウェイが2回停止したため、この送信は受付できませんでした。"
		   "何も保存されていません。\n"
		   "PDF の大きさや破損を確認して送り直すか、管理者に連絡してください。\n\n"
		   "The gateway stopped twice while taking your batch, so it was set aside; "
		   "nothing was stored.\nCheck the PDFs (size, damage) and send it again, "
		   "or ask an administrator.\n");
}
