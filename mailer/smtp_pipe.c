/*
 * smtp_pipe.c — the SMTP transaction with a relay that offers PIPELINING
 * (RFC 2920), in steps (see smtp.h): MAIL, RCPT and DATA written at once,
 * their three replies read after; the content written dot-stuffed with its
 * end; then its reply.  A sender that chains messages writes the next
 * envelope in the same write as the end of the previous content (RFC 2920
 * 3.1 lets the content be the first "command" of a group): one round trip
 * a message instead of two.  Runs in the mailer process.
 * Standards: RFC 5321 (4.5.2 dot-stuffing), RFC 2920.
 */
#include "mailer/smtp_int.h"

#include <stdio.h>
#include <string.h>

/* An envelope address: no controls, spaces or angle brackets that could
 * end the command or add parameters. */
bool smtp_addr_ok(const char *a)
{
	size_t n = 0;
	for (; a[n]; n++) {
		unsigned char ch = (unsigned char)a[n];
		if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>' || n >= SMTP_ADDR_MAX)
			return false;
	}
	return true;
}

static bool put(struct smtp_conn *c, const void *p, size_t n)
{
	return n == 0 || mailstream_write(c->s->stream, p, n) == (ssize_t)n;
}

int smtp_pipe_envelope(struct smtp_conn *c, const char *mail_from, const char *rcpt, struct error *e)
{
	char cmds[3 * (SMTP_ADDR_MAX + 32)];
	int n;

	if (c == NULL || !c->alive)
		return err_set(e, "SMTP connection is closed");
	if (mail_from == NULL || rcpt == NULL || rcpt[0] == '\0' || !smtp_addr_ok(mail_from) || !smtp_addr_ok(rcpt))
		return err_set(e, "SMTP envelope address refused (empty, too long or holding a control, space or <>)");
	n = snprintf(cmds, sizeof cmds, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", mail_from, rcpt);
	if (n < 0 || (size_t)n >= sizeof cmds)
		return err_set(e, "SMTP envelope too long");
	if (!put(c, cmds, (size_t)n))
		c->alive = false; /* seen by the reads that follow */
	return 0;
}

int smtp_pipe_content(struct smtp_conn *c, const uint8_t *msg, size_t len)
{
	const uint8_t *p = msg, *end = msg + len;

	while (c->alive && p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl != NULL ? nl : end;
		size_t body = (size_t)(stop - p);
		bool ok;
		if (nl != NULL && body > 0 && stop[-1] == '\r')
			body--; /* CRLF: the line end is written below */
		/* A line that starts with a dot gets one more (RFC 5321 4.5.2). */
		ok = (p[0] != '.' || put(c, ".", 1)) && put(c, p, body) && (nl == NULL || put(c, "\r\n", 2));
		if (!ok)
			c->alive = false;
		p = nl != NULL ? nl + 1 : end;
	}
	/* The last line ended (one given without its line end gets it), then
	 * the lone dot. */
	if (c->alive && !(len > 0 && msg[len - 1] == '\n' ? put(c, ".\r\n", 3) : put(c, "\r\n.\r\n", 5)))
		c->alive = false;
	return c->alive ? 0 : -1;
}

int smtp_pipe_flush(struct smtp_conn *c)
{
	if (c->alive && mailstream_flush(c->s->stream) != 0)
		c->alive = false;
	return c->alive ? 0 : -1;
}

int smtp_pipe_envelope_replies(struct smtp_conn *c, struct smtp_result *r)
{
	static const enum smtp_stage stage[3] = { SMTP_STAGE_MAIL, SMTP_STAGE_RCPT, SMTP_STAGE_DATA };
	bool refused = false;

	memset(r, 0, sizeof *r);
	if (!c->alive) {
		smtp_outcome_set(c, r, SMTP_STAGE_MAIL, MAILSMTP_ERROR_STREAM);
		return -1;
	}
	for (int i = 0; i < 3 && c->alive; i++) { /* after a 421, nothing more comes */
		int code = smtp_cmd(c, NULL);
		if (code == 0) { /* the link is lost: the first refusal, if any, stays the outcome */
			if (!refused)
				smtp_outcome_set(c, r, stage[i], MAILSMTP_ERROR_STREAM);
			c->alive = false;
			r->dead = true;
			return -1;
		}
		if (!refused && (i < 2 ? code / 100 != 2 : code != 354)) {
			smtp_outcome_set(c, r, stage[i], MAILSMTP_ERROR_UNEXPECTED_CODE);
			refused = true;
		}
		/* DATA was accepted after all: end an empty message so that the
		 * transaction can be reset. */
		if (refused && i == 2 && code == 354 && smtp_cmd(c, ".") == 0)
			c->alive = false;
	}
	if (!refused)
		return 0;
	smtp_reset_after(c, r);
	return -1;
}

void smtp_pipe_content_reply(struct smtp_conn *c, struct smtp_result *r)
{
	int code = c->alive ? smtp_cmd(c, NULL) : 0;

	memset(r, 0, sizeof *r);
	if (code != 0 && code < 400 && code / 100 != 2) /* not a final reply: out of step */
		code = 0, c->alive = false;
	smtp_outcome_set(c, r, SMTP_STAGE_DATA, code == 0 ? MAILSMTP_ERROR_STREAM : MAILSMTP_NO_ERROR);
	if (r->outcome == SMTP_SENT)
		c->messages++;
	/* The final reply ends the transaction whatever it says (RFC 5321
	 * 4.1.1.4): no RSET, which would also land behind an envelope
	 * already chained after this content. */
}
