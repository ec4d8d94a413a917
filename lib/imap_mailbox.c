/*
 * imap_mailbox.c — one IMAP mailbox read message by message (see
 * imap_mailbox.h): one libetpan session that selects the mailbox, fetches
 * every message, hands it to the caller's callback and then moves or
 * deletes it as told; IDLE or polling between scans, reconnection with
 * back-off.  Runs in the gateway (intake) and the mailer
 * (bounces).
 * Standards: RFC 3501, RFC 2177 (IDLE), RFC 6851 (MOVE), RFC 4315 (UIDPLUS),
 * RFC 2595 (STARTTLS), RFC 8314 (implicit TLS), RFC 6125 / RFC 5280 (server
 * certificate checks, done here with OpenSSL because Debian's libetpan uses
 * GnuTLS without verifying).
 */
#include "lib/imap_mailbox.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "lib/imap_url.h"
#include "lib/log.h"

#define MBOX_MAX IMAP_URL_MBOX_MAX /* a mailbox name in modified UTF-7 */
/* IDLE must be renewed, and a polled session used, well before servers'
 * 30-minute autologout (RFC 3501 5.4, RFC 2177). */
#define RESCAN_MAX_MS (25 * 60 * 1000LL)

enum tls_mode { TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE };

struct imap_mailbox {
	imap_mailbox_fn fn;
	void *arg;
	struct imap_url url; /* host, port, implicit TLS, loopback */
	char user[256];
	char *pass;        /* wiped in free */
	char mailbox[MBOX_MAX];                      /* modified UTF-7 */
	char folders[IMAP_MAILBOX_FOLDERS][MBOX_MAX]; /* modified UTF-7 */
	char labels[IMAP_MAILBOX_FOLDERS][32];       /* for the log */
	size_t nfolders;
	size_t max_size;
	int64_t poll_ms;
	X509_STORE *trust; /* loaded in new(), before any sandbox hides the files */

	mailimap *imap;    /* NULL: not connected */
	enum tls_mode tls;
	int has_idle, has_move, has_uidplus;
	int idling;
	int64_t next_scan; /* monotonic ms */
	unsigned failures; /* consecutive connection failures */
	int64_t retry_at;  /* monotonic ms; no connection attempt before */
	int warned_no_uidplus;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *imap_errname(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM: return "connection lost or timed out";
	case MAILIMAP_ERROR_PARSE: return "unreadable server response";
	case MAILIMAP_ERROR_CONNECTION_REFUSED: return "cannot connect (refused, unreachable or timed out)";
	case MAILIMAP_ERROR_MEMORY: return "out of memory";
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION: return "server refused the connection";
	case MAILIMAP_ERROR_SSL: return "TLS handshake failed";
	case MAILIMAP_ERROR_LOGIN: return "login refused";
	case MAILIMAP_ERROR_SELECT: return "SELECT refused";
	case MAILIMAP_ERROR_STARTTLS: return "STARTTLS refused";
	case MAILIMAP_ERROR_BAD_STATE: return "bad protocol state";
	default: return "command refused";
	}
}

/* The server's last response text, made safe for an error line. */
static const char *server_text(mailimap *imap, char *out, size_t outsize)
{
	if (imap == NULL || imap->imap_response == NULL)
		return "";
	return log_quote(imap->imap_response, out, outsize);
}

static int fail_imap(struct imap_mailbox *mb, struct error *e, const char *what, int r)
{
	char q[200];
	const char *t = server_text(mb->imap, q, sizeof(q));
	return err_tmp(e, "IMAP %s: %s%s%s", what, imap_errname(r), t[0] != '\0' ? " " : "", t);
}

static int folder_setting(const char *setting, const char *value, char *out, struct error *e)
{
	if (value == NULL || value[0] == '\0')
		return err_set(e, "%s is empty", setting);
	if (imap_url_mailbox(value, out, MBOX_MAX) < 0)
		return err_set(e, "%s is not a usable IMAP folder name", setting);
	return 0;
}

int imap_mailbox_new(const struct imap_mailbox_config *cfg, imap_mailbox_fn fn, void *arg,
		     struct imap_mailbox **out, struct error *e)
{
	struct imap_mailbox *mb = xcalloc(1, sizeof(*mb));
	int rc = -1;

	*out = NULL;
	mb->fn = fn;
	mb->arg = arg;
	if (imap_url_parse(cfg->url, cfg->url_setting, &mb->url, e) < 0)
		goto out;
	if (cfg->user == NULL || str_copy(mb->user, cfg->user, sizeof(mb->user)) >= sizeof(mb->user)) {
		err_set(e, "the IMAP user name is too long");
		goto out;
	}
	mb->pass = xstrdup(cfg->password != NULL ? cfg->password : "");
	if (folder_setting(mb->url.path[0] != '\0' ? cfg->url_setting : cfg->mailbox_setting,
			   mb->url.path[0] != '\0' ? mb->url.path : cfg->mailbox, mb->mailbox, e) < 0)
		goto out;
	if (cfg->nfolders > IMAP_MAILBOX_FOLDERS) {
		err_set(e, "too many IMAP folders");
		goto out;
	}
	for (size_t i = 0; i < cfg->nfolders; i++) {
		const struct imap_mailbox_folder *f = &cfg->folders[i];
		if (folder_setting(f->setting, f->name, mb->folders[i], e) < 0)
			goto out;
		if (strcmp(mb->folders[i], mb->mailbox) == 0) {
			err_set(e, "%s must differ from the watched mailbox", f->setting);
			goto out;
		}
		str_copy(mb->labels[i], f->label, sizeof(mb->labels[i]));
	}
	mb->nfolders = cfg->nfolders;
	mb->max_size = cfg->max_size;
	mb->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : 60000;
	mb->trust = X509_STORE_new();
	if (mb->trust == NULL || X509_STORE_set_default_paths(mb->trust) != 1) {
		err_tmp(e, "cannot load the system's trusted certificates");
		goto out;
	}
	*out = mb;
	rc = 0;
out:
	if (rc < 0)
		imap_mailbox_free(&mb);
	return rc;
}

/* ---- connection ---- */

static void drop(struct imap_mailbox *mb, int polite)
{
	if (mb->imap == NULL)
		return;
	if (polite) {
		if (mb->idling)
			mailimap_idle_done(mb->imap);
		mailimap_logout(mb->imap);
	}
	mailimap_free(mb->imap);
	mb->imap = NULL;
	mb->idling = 0;
}

void imap_mailbox_free(struct imap_mailbox **pmb)
{
	struct imap_mailbox *mb = pmb != NULL ? *pmb : NULL;
	if (mb == NULL)
		return;
	drop(mb, 1);
	if (mb->pass != NULL) {
		secure_wipe(mb->pass, strlen(mb->pass));
		free(mb->pass);
	}
	X509_STORE_free(mb->trust);
	free(mb);
	*pmb = NULL;
}

static void tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	struct imap_mailbox *mb = data;
	/* SNI names only (RFC 6066 3): never an IP literal. */
	if (!mb->url.host_is_ip)
		mailstream_ssl_set_server_name(ctx, mb->url.host);
}

/* The TLS handshake proved the server holds the leaf's key; check the
 * chain up to a trusted root, the purpose and the name we dialled. */
static int verify_server(struct imap_mailbox *mb, struct error *e)
{
	carray *chain = mailstream_get_certificate_chain(mb->imap->imap_stream);
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509 *leaf = NULL;
	int rc = -1;

	if (chain == NULL || carray_count(chain) == 0 || untrusted == NULL || ctx == NULL) {
		err_tmp(e, "IMAP server sent no certificate");
		goto out;
	}
	for (unsigned i = 0; i < carray_count(chain); i++) {
		MMAPString *der = carray_get(chain, i);
		const unsigned char *p = (const unsigned char *)der->str;
		X509 *x = d2i_X509(NULL, &p, (long)der->len);
		if (x == NULL) {
			err_tmp(e, "IMAP server sent an unreadable certificate");
			goto out;
		}
		if (leaf == NULL) {
			leaf = x;
		} else if (!sk_X509_push(untrusted, x)) {
			X509_free(x);
			err_tmp(e, "out of memory checking the IMAP certificate");
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, mb->trust, leaf, untrusted) != 1) {
		err_tmp(e, "cannot check the IMAP server certificate");
		goto out;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((mb->url.host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, mb->url.host)
			    : X509_VERIFY_PARAM_set1_host(param, mb->url.host, 0)) != 1) {
		err_tmp(e, "cannot check the IMAP server certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		err_tmp(e, "IMAP server certificate not accepted: %s",
			X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	rc = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	return rc;
}

static int refresh_caps(struct imap_mailbox *mb, struct error *e)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(mb->imap, &cap);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "CAPABILITY", r);
	mailimap_capability_data_free(cap);
	return 0;
}

/* STARTTLS by hand so that bytes the server (or a man in the middle) sent
 * after the OK are refused instead of being read as if protected
 * (CVE-2020-15953 in libetpan's own helper). */
static int starttls(struct imap_mailbox *mb, struct error *e)
{
	mailstream_low *low, *tls;
	int r = mailimap_starttls(mb->imap);

	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "STARTTLS", r);
	if (mb->imap->imap_stream->read_buffer_len != 0)
		return err_tmp(e, "IMAP server sent data after STARTTLS (possible injection)");
	low = mailstream_get_low(mb->imap->imap_stream);
	tls = mailstream_low_tls_open_with_callback_timeout(mailstream_low_get_fd(low), IMAP_MAILBOX_NET_TIMEOUT,
							   tls_setup, mb);
	if (tls == NULL)
		return err_tmp(e, "IMAP STARTTLS handshake failed");
	mailstream_low_free(low);
	mailstream_set_low(mb->imap->imap_stream, tls);
	return 0;
}

/* LIST folder i; CREATE it when the server does not know it. */
static int ensure_folder(struct imap_mailbox *mb, size_t i, struct error *e)
{
	const char *name = mb->folders[i];
	clist *list = NULL;
	int r = mailimap_list(mb->imap, "", name, &list);
	int n;

	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "LIST", r);
	n = clist_count(list);
	mailimap_list_result_free(list);
	if (n > 0)
		return 0;
	r = mailimap_create(mb->imap, name);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "CREATE", r);
	log_info("event=imap_folder_created folder=%s", mb->labels[i]);
	return 0;
}

static int connect_server(struct imap_mailbox *mb, struct error *e)
{
	int r;

	mb->imap = mailimap_new(0, NULL);
	if (mb->imap == NULL)
		return err_tmp(e, "out of memory");
	mailimap_set_timeout(mb->imap, IMAP_MAILBOX_NET_TIMEOUT);
	if (mb->url.implicit_tls)
		r = mailimap_ssl_connect_with_callback(mb->imap, mb->url.host, mb->url.port, tls_setup, mb);
	else
		r = mailimap_socket_connect(mb->imap, mb->url.host, mb->url.port);
	if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		return fail_imap(mb, e, "connect", r);
	if (mb->url.implicit_tls) {
		mb->tls = TLS_IMPLICIT;
		if (verify_server(mb, e) < 0)
			return -1;
	} else {
		if (refresh_caps(mb, e) < 0)
			return -1;
		if (mailimap_has_extension(mb->imap, "STARTTLS")) {
			mb->tls = TLS_STARTTLS;
			if (starttls(mb, e) < 0 || verify_server(mb, e) < 0)
				return -1;
		} else if (mb->url.loopback) {
			mb->tls = TLS_NONE;
		} else {
			return err_set(e, "IMAP server %s offers no STARTTLS; plain text is allowed "
					  "only to loopback, use imaps://", mb->url.host);
		}
	}
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED || mb->tls == TLS_STARTTLS) {
		r = mailimap_login(mb->imap, mb->user, mb->pass);
		if (r != MAILIMAP_NO_ERROR)
			return fail_imap(mb, e, "LOGIN", r);
	}
	/* Capabilities change after login (RFC 3501 6.2.3). */
	if (refresh_caps(mb, e) < 0)
		return -1;
	mb->has_idle = mailimap_has_idle(mb->imap);
	mb->has_move = mailimap_has_extension(mb->imap, "MOVE");
	mb->has_uidplus = mailimap_has_uidplus(mb->imap);
	for (size_t i = 0; i < mb->nfolders; i++)
		if (ensure_folder(mb, i, e) < 0)
			return -1;
	r = mailimap_select(mb->imap, mb->mailbox);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "SELECT", r);
	log_info("event=imap_connected port=%u tls=%s idle=%s move=%s uidplus=%s", mb->url.port,
		 mb->tls == TLS_IMPLICIT ? "implicit" : mb->tls == TLS_STARTTLS ? "starttls" : "none",
		 mb->has_idle ? "yes" : "no", mb->has_move ? "yes" : "no", mb->has_uidplus ? "yes" : "no");
	if (!mb->has_move && !mb->has_uidplus && !mb->warned_no_uidplus) {
		log_warn("event=imap_no_uidplus note=\"moved messages stay flagged \\\\Deleted in the mailbox\"");
		mb->warned_no_uidplus = 1;
	}
	return 0;
}

static void connection_failed(struct imap_mailbox *mb, const struct error *e)
{
	char q[ERR_MAX + 8];
	unsigned shift = mb->failures < 9 ? mb->failures : 9;
	int64_t delay = (int64_t)1 << shift;

	if (delay > IMAP_MAILBOX_BACKOFF_MAX)
		delay = IMAP_MAILBOX_BACKOFF_MAX;
	mb->failures++;
	mb->retry_at = mono_ms() + delay * 1000;
	drop(mb, 0);
	log_warn("event=imap_error reason=%s retry_in=%llds", log_quote(e->msg, q, sizeof(q)),
		 (long long)delay);
}

/* ---- messages ---- */

/* *refused is set when the server answered NO/BAD (the connection is fine). */
static int move_uid(struct imap_mailbox *mb, uint32_t uid, const char *folder, int *refused,
		    struct error *e)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	struct mailimap_store_att_flags *att = NULL;
	struct mailimap_flag_list *fl;
	const char *what;
	int r, rc = -1;

	*refused = 0;
	if (set == NULL)
		return err_tmp(e, "out of memory");
	if (folder != NULL && mb->has_move) {
		what = "UID MOVE";
		r = mailimap_uid_move(mb->imap, set, folder);
		goto done;
	}
	/* folder NULL: no copy, the message is only deleted (expunged). */
	if (folder != NULL) {
		what = "UID COPY";
		r = mailimap_uid_copy(mb->imap, set, folder);
		if (r != MAILIMAP_NO_ERROR)
			goto done;
	}
	fl = mailimap_flag_list_new_empty();
	if (fl == NULL || mailimap_flag_list_add(fl, mailimap_flag_new_deleted()) != MAILIMAP_NO_ERROR ||
	    (att = mailimap_store_att_flags_new_add_flags_silent(fl)) == NULL) {
		if (fl != NULL)
			mailimap_flag_list_free(fl);
		err_tmp(e, "out of memory");
		goto out;
	}
	what = "UID STORE";
	r = mailimap_uid_store(mb->imap, set, att);
	/* Only this UID: never a plain EXPUNGE, which would also remove what
	 * other clients merely flagged. */
	if (r == MAILIMAP_NO_ERROR && mb->has_uidplus) {
		what = "UID EXPUNGE";
		r = mailimap_uid_expunge(mb->imap, set);
	}
done:
	if (r != MAILIMAP_NO_ERROR) {
		*refused = r != MAILIMAP_ERROR_STREAM && r != MAILIMAP_ERROR_PARSE &&
			   r != MAILIMAP_ERROR_MEMORY;
		fail_imap(mb, e, what, r);
		goto out;
	}
	rc = 0;
out:
	if (att != NULL)
		mailimap_store_att_flags_free(att);
	mailimap_set_free(set);
	return rc;
}

/* Move uid to folder i. */
static int move_to(struct imap_mailbox *mb, uint32_t uid, size_t i, struct error *e)
{
	int refused;

	if (move_uid(mb, uid, mb->folders[i], &refused, e) == 0)
		return 0;
	if (!refused)
		return -1;
	/* Someone may have deleted the folder since we connected. */
	if (ensure_folder(mb, i, e) < 0)
		return -1;
	return move_uid(mb, uid, mb->folders[i], &refused, e);
}

/* Add a to ft; a is freed when that fails. */
static int add_att(struct mailimap_fetch_type *ft, struct mailimap_fetch_att *a)
{
	if (a == NULL)
		return -1;
	if (mailimap_fetch_type_new_fetch_att_list_add(ft, a) != MAILIMAP_NO_ERROR) {
		mailimap_fetch_att_free(a);
		return -1;
	}
	return 0;
}

struct msg_info {
	uint32_t uid;
	uint32_t size;
	int deleted;
};

static void read_att(struct mailimap_msg_att *ma, struct msg_info *mi, char **body, size_t *blen)
{
	for (clistiter *it = clist_begin(ma->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static != NULL) {
			struct mailimap_msg_att_static *st = item->att_data.att_static;
			if (st->att_type == MAILIMAP_MSG_ATT_UID)
				mi->uid = st->att_data.att_uid;
			else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
				mi->size = st->att_data.att_rfc822_size;
			else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION && body != NULL &&
				 st->att_data.att_body_section != NULL) {
				*body = st->att_data.att_body_section->sec_body_part;
				*blen = st->att_data.att_body_section->sec_length;
			}
		} else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC && item->att_data.att_dyn != NULL &&
			   item->att_data.att_dyn->att_list != NULL) {
			for (clistiter *f = clist_begin(item->att_data.att_dyn->att_list); f != NULL;
			     f = clist_next(f)) {
				struct mailimap_flag_fetch *ff = clist_content(f);
				if (ff->fl_type == MAILIMAP_FLAG_FETCH_OTHER && ff->fl_flag != NULL &&
				    ff->fl_flag->fl_type == MAILIMAP_FLAG_DELETED)
					mi->deleted = 1;
			}
		}
	}
}

/* What a FETCH leaves behind (any of them may be NULL). */
static void fetch_free(clist *res, struct mailimap_fetch_type *ft, struct mailimap_set *set)
{
	if (res != NULL)
		mailimap_fetch_list_free(res);
	if (ft != NULL)
		mailimap_fetch_type_free(ft);
	if (set != NULL)
		mailimap_set_free(set);
}

/* UID, size and flags of every message in the selected mailbox. */
static int list_messages(struct imap_mailbox *mb, struct msg_info **out, size_t *n, struct error *e)
{
	struct mailimap_set *set = mailimap_set_new_interval(1, 0); /* 1:* */
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	clist *res = NULL;
	struct msg_info *v = NULL;
	size_t k = 0;
	int r, rc = -1;

	*out = NULL;
	*n = 0;
	if (set == NULL || ft == NULL || add_att(ft, mailimap_fetch_att_new_uid()) < 0 ||
	    add_att(ft, mailimap_fetch_att_new_rfc822_size()) < 0 ||
	    add_att(ft, mailimap_fetch_att_new_flags()) < 0) {
		err_tmp(e, "out of memory");
		goto out;
	}
	r = mailimap_uid_fetch(mb->imap, set, ft, &res);
	if (r != MAILIMAP_NO_ERROR) {
		fail_imap(mb, e, "UID FETCH", r);
		goto out;
	}
	v = xcalloc((size_t)clist_count(res) + 1, sizeof(*v));
	for (clistiter *it = clist_begin(res); it != NULL; it = clist_next(it)) {
		struct msg_info mi = { 0, 0, 0 };
		read_att(clist_content(it), &mi, NULL, NULL);
		if (mi.uid != 0)
			v[k++] = mi;
	}
	*out = v;
	*n = k;
	v = NULL;
	rc = 0;
out:
	free(v);
	fetch_free(res, ft, set);
	return rc;
}

static int cmp_uid(const void *a, const void *b)
{
	const struct msg_info *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* The message mi fetched with BODY.PEEK[] (a message left alone stays
 * unseen for its owner; the partial range caps what a lying RFC822.SIZE
 * could make us hold).  *res holds it (free with fetch_free); *body is NULL
 * when the message vanished meanwhile.  -1 only on an IMAP problem. */
static int fetch_one(struct imap_mailbox *mb, const struct msg_info *mi, clist **res, char **body,
		     size_t *blen, struct error *e)
{
	struct mailimap_set *set = mailimap_set_new_single(mi->uid);
	struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
	struct mailimap_section *sec = mailimap_section_new(NULL); /* BODY.PEEK[]: the whole message */
	struct mailimap_fetch_att *fa;
	int r, rc = -1;

	*res = NULL;
	*body = NULL;
	*blen = 0;
	fa = sec != NULL ? mailimap_fetch_att_new_body_peek_section_partial(sec, 0, (uint32_t)mb->max_size + 1)
			 : NULL;
	if (fa == NULL && sec != NULL)
		mailimap_section_free(sec);
	if (set == NULL || ft == NULL || add_att(ft, fa) < 0 || add_att(ft, mailimap_fetch_att_new_uid()) < 0) {
		if (ft == NULL && fa != NULL)
			mailimap_fetch_att_free(fa);
		err_tmp(e, "out of memory");
		goto out;
	}
	r = mailimap_uid_fetch(mb->imap, set, ft, res);
	if (r != MAILIMAP_NO_ERROR) {
		fail_imap(mb, e, "UID FETCH BODY.PEEK[]", r);
		goto out;
	}
	for (clistiter *it = clist_begin(*res); it != NULL; it = clist_next(it)) {
		char *b = NULL;
		size_t bl = 0;
		struct msg_info x = { 0, 0, 0 };
		read_att(clist_content(it), &x, &b, &bl);
		if (x.uid == mi->uid && b != NULL) {
			*body = b;
			*blen = bl;
		}
	}
	rc = 0;
out:
	fetch_free(NULL, ft, set);
	return rc;
}

/* One message: fetched (capped), handed to the callback, then moved or
 * deleted as it says.  -1 only on an IMAP problem. */
static int process_one(struct imap_mailbox *mb, const struct msg_info *mi, struct error *e)
{
	struct imap_mailbox_msg m = { mi->uid, mi->size, NULL, 0 };
	enum imap_mailbox_action a;
	clist *res = NULL;
	char *body = NULL;
	size_t folder = 0, blen = 0;
	int rc = -1;

	if ((size_t)mi->size <= mb->max_size) {
		if (fetch_one(mb, mi, &res, &body, &blen, e) < 0)
			goto out;
		if (body == NULL) {
			/* Expunged by another client in the meantime: nothing to do. */
			log_info("event=imap_message uid=%u outcome=vanished", mi->uid);
			rc = 0;
			goto out;
		}
		m.size = blen;
		if (blen <= mb->max_size) {
			m.data = (const uint8_t *)body;
			m.len = blen;
		}
	}
	a = mb->fn(mb->arg, &m, &folder);
	if (a == IMAP_MAILBOX_MOVE && folder < mb->nfolders) {
		rc = move_to(mb, mi->uid, folder, e);
	} else if (a == IMAP_MAILBOX_DELETE) {
		int refused;
		rc = move_uid(mb, mi->uid, NULL, &refused, e);
		if (rc == 0)
			log_info("event=imap_message uid=%u outcome=expunged%s", mi->uid,
				 mb->has_uidplus ? "" : " note=flagged_deleted_only_no_uidplus");
	} else {
		rc = 0;
	}
out:
	fetch_free(res, NULL, NULL);
	return rc;
}

static int scan(struct imap_mailbox *mb, struct error *e)
{
	struct msg_info *v = NULL;
	size_t n = 0, done = 0, skipped = 0;
	int r, rc = -1;

	/* NOOP lets the server report what arrived since the last command. */
	r = mailimap_noop(mb->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail_imap(mb, e, "NOOP", r);
	if (list_messages(mb, &v, &n, e) < 0)
		goto out;
	qsort(v, n, sizeof(*v), cmp_uid);
	for (size_t i = 0; i < n; i++) {
		if (v[i].deleted) {
			/* flagged by a person, or our own move without UIDPLUS */
			skipped++;
			continue;
		}
		if (process_one(mb, &v[i], e) < 0)
			goto out;
		done++;
	}
	if (done > 0)
		log_info("event=imap_scan messages=%zu skipped_deleted=%zu", done, skipped);
	rc = 0;
out:
	free(v);
	return rc;
}

/* ---- the step ---- */

static int idle_news(struct imap_mailbox *mb)
{
	struct pollfd p;
	if (mb->imap->imap_stream->read_buffer_len > 0)
		return 1;
	p.fd = mailimap_idle_get_fd(mb->imap);
	p.events = POLLIN;
	p.revents = 0;
	return p.fd >= 0 && poll(&p, 1, 0) > 0;
}

/* Without IDLE this is the polling; with IDLE the periodic rescan retries
 * TEMPFAIL messages and renews the IDLE. */
static int64_t scan_interval(const struct imap_mailbox *mb)
{
	return mb->poll_ms > RESCAN_MAX_MS ? RESCAN_MAX_MS : mb->poll_ms;
}

int imap_mailbox_step(struct imap_mailbox *mb, int timeout_ms, struct error *e)
{
	int64_t now = mono_ms();
	int64_t deadline = now + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		int64_t until;
		int r;

		now = mono_ms();
		if (mb->imap == NULL) {
			if (now < mb->retry_at) {
				until = mb->retry_at < deadline ? mb->retry_at : deadline;
				if (until > now)
					poll(NULL, 0, (int)(until - now));
				if (mono_ms() < mb->retry_at)
					return 0;
			}
			if (connect_server(mb, e) < 0) {
				connection_failed(mb, e);
				return -1;
			}
			mb->failures = 0;
			mb->retry_at = 0;
			mb->next_scan = 0; /* scan now */
			now = mono_ms();
		}
		if (mb->idling && (idle_news(mb) || now >= mb->next_scan)) {
			mb->idling = 0;
			r = mailimap_idle_done(mb->imap);
			if (r != MAILIMAP_NO_ERROR) {
				fail_imap(mb, e, "IDLE DONE", r);
				connection_failed(mb, e);
				return -1;
			}
			mb->next_scan = 0;
		}
		if (now >= mb->next_scan) {
			if (scan(mb, e) < 0) {
				connection_failed(mb, e);
				return -1;
			}
			mb->next_scan = mono_ms() + scan_interval(mb);
		}
		if (mb->has_idle && !mb->idling) {
			r = mailimap_idle(mb->imap);
			if (r != MAILIMAP_NO_ERROR) {
				fail_imap(mb, e, "IDLE", r);
				connection_failed(mb, e);
				return -1;
			}
			mb->idling = 1;
			if (idle_news(mb))
				continue; /* something arrived while entering IDLE */
		}
		now = mono_ms();
		if (now >= deadline)
			return 0;
		until = mb->next_scan < deadline ? mb->next_scan : deadline;
		if (until > now) {
			if (mb->idling) {
				struct pollfd p = { mailimap_idle_get_fd(mb->imap), POLLIN, 0 };
				poll(&p, 1, (int)(until - now));
			} else {
				poll(NULL, 0, (int)(until - now));
			}
		}
	}
}

int imap_mailbox_fd(const struct imap_mailbox *mb)
{
	if (mb == NULL || mb->imap == NULL || !mb->idling)
		return -1;
	return mailimap_idle_get_fd(mb->imap);
}

int imap_mailbox_next_ms(const struct imap_mailbox *mb)
{
	int64_t now = mono_ms(), at = mb->imap == NULL ? mb->retry_at : mb->next_scan;
	if (at <= now)
		return 0;
	return at - now > INT32_MAX ? INT32_MAX : (int)(at - now);
}

int imap_mailbox_connected(const struct imap_mailbox *mb)
{
	return mb != NULL && mb->imap != NULL;
}
