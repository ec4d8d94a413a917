/*
 * pool_conf.c — the pool's configuration read from tayori.conf: the relay
 * (from [mail] relay, relay_user, relay_password_env, relay_ca_file), the
 * number of connections and the per-domain limits, or the outbox Maildir
 * when no relay is set.  Runs in the mailer process.
 */
#include "mailer/pool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"

#define SMTP_DEFAULT_PORT 25

/* "smtp://HOST[:PORT][/...]" or with "[IPv6]" into host and port. */
static int parse_relay(const char *url, char *host, size_t hostsize, unsigned *port,
		       bool *implicit, struct error *e)
{
	const char *h, *end;
	size_t n;
	int64_t v = SMTP_DEFAULT_PORT;

	/* smtps://: TLS from the first byte, port 465 unless given. */
	*implicit = strncmp(url, "smtps://", 8) == 0;
	if (*implicit) {
		v = 465;
		h = url + 8;
	} else if (strncmp(url, "smtp://", 7) == 0) {
		h = url + 7;
	} else {
		return err_set(e, "[mail] relay %s: not an smtp:// or smtps:// URL", url);
	}
	if (*h == '[') {
		end = strchr(h, ']');
		if (end == NULL)
			return err_set(e, "[mail] relay %s: unclosed [", url);
		n = (size_t)(end - h - 1);
		h++;
		end++;
	} else {
		end = h + strcspn(h, ":/");
		n = (size_t)(end - h);
	}
	if (n == 0 || n >= hostsize)
		return err_set(e, "[mail] relay %s: host missing or too long", url);
	memcpy(host, h, n);
	host[n] = '\0';
	if (*end == ':') {
		char digits[8];
		size_t d = strcspn(end + 1, "/");
		if (d == 0 || d >= sizeof digits)
			return err_set(e, "[mail] relay %s: bad port", url);
		memcpy(digits, end + 1, d);
		digits[d] = '\0';
		if (parse_int64(digits, 1, 65535, &v) < 0)
			return err_set(e, "[mail] relay %s: bad port", url);
	}
	*port = (unsigned)v;
	return 0;
}

/* Our EHLO name: this host's name when it is a full one, else the domain
 * of [mail] from. */
static void helo_name(const struct conf *c, char *out, size_t outsize)
{
	const char *from = conf_str(c, "mail", "from");
	const char *at = strrchr(from, '@');

	if (gethostname(out, outsize) == 0 && out[outsize - 1] == '\0' && strchr(out, '.') != NULL &&
	    strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(out))
		return;
	str_copy(out, at ? at + 1 : "localhost", outsize);
}

int pool_config_from_conf(const struct conf *c, struct pool_config *pc, struct smtp_config *sc,
			  struct pool_conf_buf *buf, struct error *e)
{
	const char *relay = conf_str(c, "mail", "relay");

	memset(pc, 0, sizeof *pc);
	memset(sc, 0, sizeof *sc);
	memset(buf, 0, sizeof *buf);
	pc->connections = (unsigned)conf_int(c, "mail", "connections");
	pc->per_domain_connections = (unsigned)conf_int(c, "mail", "per_domain_connections");
	pc->per_domain_rate = (unsigned)conf_int(c, "mail", "per_domain_rate");
	if (relay[0] == '\0') {
		if (conf_path(c, "paths", "outbox_maildir", buf->maildir, sizeof buf->maildir) < 0)
			return err_set(e, "[paths] outbox_maildir: path too long");
		pc->maildir = buf->maildir;
		return 0;
	}
	if (parse_relay(relay, buf->host, sizeof buf->host, &sc->port, &sc->implicit_tls, e) < 0)
		return -1;
	sc->host = buf->host;
	helo_name(c, buf->helo, sizeof buf->helo);
	sc->helo_name = buf->helo;
	if (str_copy(buf->user, conf_str(c, "mail", "relay_user"), sizeof buf->user) >= sizeof buf->user ||
	    str_copy(buf->password_env, conf_str(c, "mail", "relay_password_env"), sizeof buf->password_env) >=
		    sizeof buf->password_env)
		return err_set(e, "[mail] relay_user or relay_password_env too long");
	if (buf->user[0] != '\0') {
		if (buf->password_env[0] == '\0')
			return err_set(e, "[mail] relay_user is set but relay_password_env is not");
		sc->user = buf->user;
		sc->password_env = buf->password_env;
	}
	if (conf_path(c, "mail", "relay_ca_file", buf->ca_file, sizeof buf->ca_file) < 0)
		return err_set(e, "[mail] relay_ca_file: path too long");
	sc->ca_file = buf->ca_file[0] != '\0' ? buf->ca_file : NULL;
	pc->smtp = sc;
	return 0;
}
