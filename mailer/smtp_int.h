/*
 * smtp_int.h — private to the SMTP client (mailer/smtp.c, mailer/smtp_tls.c):
 * the connection and the TLS and AUTH steps.  Runs in the mailer process.
 */
#ifndef TAYORI_SMTP_INT_H
#define TAYORI_SMTP_INT_H

#include <libetpan/libetpan.h>

#include "mailer/smtp.h"

#define SMTP_HOST_MAX 255

struct smtp_conn {
	mailsmtp *s;
	char host[SMTP_HOST_MAX + 1];
	char helo[SMTP_HOST_MAX + 1];
	char ca_file[4096];
	bool alive;
	bool tls;
	bool loopback_peer; /* the address connected is a loopback one */
	unsigned long messages;
	time_t reply_timeout;
};

/* Send one command line (without CRLF; NULL: only read) and read the
 * reply into c->s->response / response_code; returns the code, 0 when the
 * link failed. */
int smtp_cmd(struct smtp_conn *c, const char *line);

/* Fill r from the last reply (or, with err MAILSMTP_ERROR_STREAM, the lost
 * link) of stage; a lost link or a 421 leaves the connection dead. */
void smtp_outcome_set(struct smtp_conn *c, struct smtp_result *r, enum smtp_stage stage, int err);

/* After a refusal: reset the transaction (RSET), or give the connection up. */
void smtp_reset_after(struct smtp_conn *c, struct smtp_result *r);

/* An envelope address holds no control, space or angle bracket that could
 * end the command or add parameters, and is not too long. */
bool smtp_addr_ok(const char *a);

/* EHLO with our name; records STARTTLS and AUTH PLAIN/LOGIN in c->s. */
int smtp_ehlo(struct smtp_conn *c, struct error *e);

/* STARTTLS, the handshake (SNI) and the certificate check against the
 * system CAs or c->ca_file with c->host as the name; then EHLO again. */
int smtp_tls_start(struct smtp_conn *c, struct error *e);

/* Implicit TLS (smtps://) on the connected fd: the handshake (SNI), the
 * greeting, the certificate check as for STARTTLS, before anything is
 * sent; then EHLO.  fd is owned from here. */
int smtp_tls_implicit(struct smtp_conn *c, int fd, struct error *e);

/* AUTH PLAIN (else LOGIN) as user with the password in env. */
int smtp_auth(struct smtp_conn *c, const char *user, const char *env, struct error *e);

#endif
