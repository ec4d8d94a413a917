/*
 * smtp.c — one SMTP client connection to the relay (see smtp.h): connect
 * with a timeout, EHLO, the TLS policy, AUTH, then MAIL / RCPT / DATA for
 * each message, with the outcome read from the relay's reply.  libetpan's
 * mailsmtp speaks the protocol (and dot-stuffs the DATA); TLS and AUTH are
 * in smtp_tls.c.  Runs in the mailer process.
 * Standards: RFC 5321 (SMTP), RFC 3207 (STARTTLS), RFC 3463.
 */
#include "mailer/smtp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

/* One non-blocking connect bounded by timeout seconds; the socket is
 * returned blocking, or -1. */
static int connect_one(const struct addrinfo *ai, unsigned timeout)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	int soerr = 0;
	socklen_t sl = sizeof soerr;

	if (fd < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (errno != EINPROGRESS || poll(&p, 1, (int)timeout * 1000) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			close(fd);
			return -1;
		}
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int tcp_connect(struct smtp_conn *c, unsigned port, unsigned timeout, struct error *e)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	char ports[8];
	int fd = -1, r;

	snprintf(ports, sizeof ports, "%u", port);
	r = getaddrinfo(c->host, ports, &hints, &res);
	if (r != 0)
		return err_tmp(e, "SMTP relay %s: %s", c->host, gai_strerror(r));
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = connect_one(ai, timeout);
		if (fd >= 0)
			c->loopback_peer = addr_is_loopback(ai->ai_addr);
	}
	freeaddrinfo(res);
	if (fd < 0)
		return err_tmp(e, "cannot connect to SMTP relay %s port %u", c->host, port);
	return fd;
}

static int fail_smtp(struct smtp_conn *c, struct error *e, const char *what, int r)
{
	struct smtp_result res = {0};
	smtp_result_set_reply(&res, c->s->response_code, c->s->response);
	if (c->s->response_code > 0)
		return err_tmp(e, "SMTP relay %s refused %s: %d %s %s", c->host, what, res.code, res.status,
			       res.text);
	return err_tmp(e, "SMTP relay %s: %s failed: %s", c->host, what, mailsmtp_strerror(r));
}

/* Greeting and EHLO on a fresh connected socket. */
static int greet(struct smtp_conn *c, int fd, struct error *e)
{
	mailstream *st = mailstream_socket_open_timeout(fd, c->reply_timeout);
	int r;

	if (st == NULL) {
		close(fd);
		return err_tmp(e, "out of memory");
	}
	c->s->response_code = 0;
	r = mailsmtp_connect(c->s, st);
	if (r != MAILSMTP_NO_ERROR)
		return fail_smtp(c, e, "the connection", r);
	return smtp_ehlo(c, e);
}

static int open_steps(struct smtp_conn *c, const struct smtp_config *cfg, struct error *e)
{
	unsigned ct = cfg->connect_timeout ? cfg->connect_timeout : SMTP_TIMEOUT_DEFAULT;
	bool loop = smtp_host_is_loopback(cfg->host);
	int fd, use_tls;

	fd = tcp_connect(c, cfg->port, ct, e);
	if (fd < 0)
		return -1;
	if (loop && !c->loopback_peer) {
		close(fd);
		return err_set(e, "SMTP relay %s did not resolve to a loopback address", c->host);
	}
	if (cfg->implicit_tls) {
		if (smtp_tls_implicit(c, fd, e) < 0)
			return -1;
		use_tls = 0;
	} else if (greet(c, fd, e) < 0) {
		return -1;
	} else {
		use_tls = smtp_tls_decide(c->host, cfg->tls_on_loopback, (c->s->esmtp & MAILSMTP_ESMTP_STARTTLS) != 0,
				  e);
	}
	if (use_tls < 0 || (use_tls == 1 && smtp_tls_start(c, e) < 0))
		return -1;
	if (cfg->user != NULL && cfg->user[0] != '\0') {
		if (!c->tls && !c->loopback_peer)
			return err_set(e, "SMTP AUTH refused over a link that is neither TLS nor loopback");
		if (smtp_auth(c, cfg->user, cfg->password_env, e) < 0)
			return -1;
	}
	return 0;
}

int smtp_open(const struct smtp_config *cfg, struct smtp_conn **out, struct error *e)
{
	struct smtp_result reply;
	return smtp_open_reply(cfg, out, &reply, e);
}

int smtp_open_reply(const struct smtp_config *cfg, struct smtp_conn **out,
		    struct smtp_result *reply, struct error *e)
{
	struct smtp_conn *c;

	*out = NULL;
	memset(reply, 0, sizeof *reply);
	if (cfg->host == NULL || cfg->host[0] == '\0' || strlen(cfg->host) > SMTP_HOST_MAX)
		return err_set(e, "SMTP relay host missing or too long");
	if (cfg->helo_name == NULL || cfg->helo_name[0] == '\0' || strlen(cfg->helo_name) > SMTP_HOST_MAX)
		return err_set(e, "SMTP EHLO name missing or too long");
	if (cfg->port == 0 || cfg->port > 65535)
		return err_set(e, "SMTP relay port %u out of range", cfg->port);
	if (cfg->ca_file != NULL && strlen(cfg->ca_file) >= sizeof c->ca_file)
		return err_set(e, "SMTP CA file name too long");
	c = xcalloc(1, sizeof *c);
	str_copy(c->host, cfg->host, sizeof c->host);
	str_copy(c->helo, cfg->helo_name, sizeof c->helo);
	if (cfg->ca_file != NULL)
		str_copy(c->ca_file, cfg->ca_file, sizeof c->ca_file);
	c->reply_timeout = cfg->reply_timeout ? cfg->reply_timeout : SMTP_TIMEOUT_DEFAULT;
	c->s = mailsmtp_new(0, NULL);
	if (c->s == NULL) {
		free(c);
		return err_tmp(e, "out of memory");
	}
	mailsmtp_set_timeout(c->s, c->reply_timeout);
	if (open_steps(c, cfg, e) < 0) {
		int code = c->s->response_code;
		if (code >= 400 && code <= 599) {
			smtp_result_set_reply(reply, code, c->s->response);
			reply->outcome = code >= 500 ? SMTP_PERMFAIL : SMTP_TEMPFAIL;
			reply->stage = SMTP_STAGE_CONNECT;
			reply->throttle = reply->throttle || code == 421;
		}
		smtp_close(&c);
		return -1;
	}
	c->alive = true;
	*out = c;
	return 0;
}

/* Fill r from the last reply (or the link failure) of stage. */
void smtp_outcome_set(struct smtp_conn *c, struct smtp_result *r, enum smtp_stage stage, int err)
{
	int code = c->s->response_code;

	r->stage = stage;
	if (err == MAILSMTP_ERROR_STREAM || code < 200 || code > 599) {
		r->outcome = SMTP_TEMPFAIL;
		r->code = 0;
		r->status[0] = '\0';
		r->throttle = false;
		snprintf(r->text, sizeof r->text, "connection lost: %s", mailsmtp_strerror(err));
		c->alive = false;
		r->dead = true;
		return;
	}
	smtp_result_set_reply(r, code, c->s->response);
	r->outcome = code >= 500 ? SMTP_PERMFAIL : code >= 400 ? SMTP_TEMPFAIL : SMTP_SENT;
	if (code == 421) { /* the relay closes the transmission channel */
		c->alive = false;
		r->dead = true;
	}
}

/* After a refusal: reset the transaction, or give the connection up. */
void smtp_reset_after(struct smtp_conn *c, struct smtp_result *r)
{
	if (!c->alive)
		return;
	c->s->response_code = 0;
	if (mailsmtp_reset(c->s) != MAILSMTP_NO_ERROR) {
		c->alive = false;
		r->dead = true;
	}
}

/* libetpan ends the DATA with CRLF "." CRLF after the bytes it is given,
 * so the message's own last line end is left for it to send; otherwise
 * the relay would receive one empty line more than the message has. */
static size_t body_len(const uint8_t *msg, size_t len)
{
	if (len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n')
		return len - 2;
	if (len >= 1 && msg[len - 1] == '\n')
		return len - 1;
	return len;
}

int smtp_send(struct smtp_conn *c, const char *mail_from, const char *rcpt, const uint8_t *msg,
	      size_t len, struct smtp_result *r, struct error *e)
{
	int x;

	memset(r, 0, sizeof *r);
	if (c == NULL || !c->alive)
		return err_set(e, "SMTP connection is closed");
	if (c->s->esmtp & MAILSMTP_ESMTP_PIPELINING) { /* the steps of smtp_pipe.c, one message */
		if (smtp_pipe_envelope(c, mail_from, rcpt, e) < 0)
			return -1;
		smtp_pipe_flush(c); /* a failed write is read as a lost link */
		if (smtp_pipe_envelope_replies(c, r) < 0)
			return 0;
		if (smtp_pipe_content(c, msg, len) == 0)
			smtp_pipe_flush(c);
		smtp_pipe_content_reply(c, r);
		return 0;
	}
	if (mail_from == NULL || rcpt == NULL || rcpt[0] == '\0' || !smtp_addr_ok(mail_from) || !smtp_addr_ok(rcpt))
		return err_set(e, "SMTP envelope address refused (empty, too long or holding a control, space or <>)");
	c->s->response_code = 0;
	x = mailsmtp_mail(c->s, mail_from);
	if (x != MAILSMTP_NO_ERROR) {
		smtp_outcome_set(c, r, SMTP_STAGE_MAIL, x);
		goto refused;
	}
	c->s->response_code = 0;
	x = mailsmtp_rcpt(c->s, rcpt);
	if (x != MAILSMTP_NO_ERROR) {
		smtp_outcome_set(c, r, SMTP_STAGE_RCPT, x);
		goto refused;
	}
	c->s->response_code = 0;
	x = mailsmtp_data(c->s);
	if (x == MAILSMTP_NO_ERROR) {
		c->s->response_code = 0;
		x = mailsmtp_data_message(c->s, (const char *)msg, body_len(msg, len));
	}
	smtp_outcome_set(c, r, SMTP_STAGE_DATA, x);
	if (x == MAILSMTP_NO_ERROR && r->outcome == SMTP_SENT) {
		c->messages++;
		return 0;
	}
refused:
	if (r->outcome == SMTP_SENT) { /* an error code libetpan saw with a 2xx: treat as temporary */
		r->outcome = SMTP_TEMPFAIL;
	}
	smtp_reset_after(c, r);
	return 0;
}

bool smtp_conn_alive(const struct smtp_conn *c)
{
	return c != NULL && c->alive;
}

bool smtp_conn_pipelining(const struct smtp_conn *c)
{
	return c != NULL && (c->s->esmtp & MAILSMTP_ESMTP_PIPELINING) != 0;
}

unsigned long smtp_conn_messages(const struct smtp_conn *c)
{
	return c ? c->messages : 0;
}

bool smtp_conn_tls(const struct smtp_conn *c)
{
	return c != NULL && c->tls;
}

void smtp_close(struct smtp_conn **pc)
{
	struct smtp_conn *c = *pc;
	if (c == NULL)
		return;
	if (c->alive && c->s->stream != NULL)
		mailsmtp_quit(c->s);
	if (c->s->stream != NULL) { /* dead or half set up: close without a word */
		mailstream_close(c->s->stream);
		c->s->stream = NULL;
	}
	mailsmtp_free(c->s);
	free(c);
	*pc = NULL;
}
