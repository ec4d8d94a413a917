/*
 * keys_main.c — the keys role's main loop.  Runs in the keys process.
 *
 * It confines itself (read DATA/keys and the credential, write only
 * DATA/keys/audit, the audit chain's counter and the notice records'
 * versions, and a PKCS#11 module's token store; no socket), loads the tenant key and the signing credential, tells
 * the supervisor whether it could (a credential that does not open stops
 * the service's start), logs the signing certificate, then serves requests
 * from its clients.  The
 * supervisor hands it one end of each client's channel over the control
 * channel (SCM_RIGHTS), with that channel's permissions (keys_channel_grant).
 * A client that sends a malformed or forbidden request loses its channel;
 * the supervisor then restarts that client.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "keys/credential.h"
#include "lib/ipc.h"
#include "keys/keys.h"
#include "lib/log.h"
#include "lib/role.h"
#include "lib/sandbox.h"

/* One thread per channel: RSA operations of different clients (and of the
 * gateway's parallel signers) then run on different cores.  The state is
 * read-only once loaded; each request makes its own OpenSSL context. */
#define MAX_CLIENTS 32

struct client {
	struct keys_state *ks;
	int fd;
	struct keys_perms perms;
};

static int active_clients;

static void *client_thread(void *arg)
{
	struct client *c = arg;
	keys_serve(c->ks, c->fd, &c->perms);
	close(c->fd);
	free(c);
	__atomic_fetch_sub(&active_clients, 1, __ATOMIC_RELAXED);
	return NULL;
}

/*
 * SoftHSM2 (the software token of the tests, and of wards that keep the key
 * in a file-backed token) reads its configuration from SOFTHSM2_CONF or
 * /etc/softhsm/softhsm2.conf and keeps each token in a folder under
 * directories.tokendir, where it writes lock and object files even to sign.
 * Finds those two paths so the sandbox can allow them; other modules need
 * nothing outside the system folders (or must be given them).
 */
static void softhsm_paths(const char *module, char *conf_out, char *tokendir_out, size_t size)
{
	const char *base = strrchr(module, '/');
	const char *env = getenv("SOFTHSM2_CONF");
	uint8_t *text = NULL;
	size_t len = 0;
	struct error e = { { 0 }, 0 };

	conf_out[0] = tokendir_out[0] = '\0';
	base = base != NULL ? base + 1 : module;
	if (strncmp(base, "libsofthsm2", 11) != 0)
		return;
	str_copy(conf_out, env != NULL && env[0] != '\0' ? env : "/etc/softhsm/softhsm2.conf", size);
	if (file_read_all(conf_out, 64 << 10, &text, &len, &e) < 0)
		return;
	for (char *line = (char *)text, *next; line != NULL && line < (char *)text + len; line = next) {
		char *v;
		next = memchr(line, '\n', len - (size_t)(line - (char *)text));
		if (next != NULL)
			*next++ = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (strncmp(line, "directories.tokendir", 20) != 0 || (v = strchr(line, '=')) == NULL)
			continue;
		for (v++; *v == ' ' || *v == '\t'; v++)
			;
		for (size_t n = strlen(v); n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r');
		     n--)
			v[n - 1] = '\0';
		str_copy(tokendir_out, v, size);
	}
	free(text);
}

/* Log which certificate signs: its SHA-256 fingerprint, subject and end. */
static void log_credential(const struct credential *c)
{
	struct credential_info ci;
	struct error e = { { 0 }, 0 };
	char q[600];

	if (c == NULL) {
		log_warn("event=signing_credential state=none hint=\"set [signing] p12 or pkcs11_module\"");
		return;
	}
	if (credential_info(c, &ci, &e) < 0) {
		log_warn("event=signing_credential source=%s reason=\"%s\"", credential_source(c), e.msg);
		return;
	}
	log_info("event=signing_credential source=%s sha256=%s not_after=%s subject=%s",
		 credential_source(c), ci.sha256, ci.not_after, log_quote(ci.subject, q, sizeof(q)));
}

static int start_failed(struct role_ctx *ctx, const char *why)
{
	char q[ERR_MAX + 16];
	log_err("event=start_failed reason=%s", log_quote(why, q, sizeof(q)));
	keys_ready_send(ctx->parent_fd, why);
	return 3;
}

int keys_main(struct role_ctx *ctx)
{
	struct keys_state *ks = NULL;
	struct error e = { { 0 }, 0 };
	char p12[PATH_MAX], module[PATH_MAX], audit[PATH_MAX], hsm_conf[PATH_MAX], tokendir[PATH_MAX];
	const char *ro[4] = { NULL, NULL, NULL, NULL }, *rw[2] = { NULL, NULL };
	struct keys_cred_conf cc;
	size_t nro = 0;

	/* Other processes of the same user must not read this one's memory,
	 * and a crash must not write the keys to disk (the supervisor did this
	 * at fork already; a keys process started otherwise needs it too). */
	sandbox_no_dumps();
	keys_cred_conf_read(ctx->conf, p12, module, &cc);
	tokendir[0] = hsm_conf[0] = '\0';
	if (module[0] != '\0') {
		/* The token, never the file: keys_state_load_cred does not open it. */
		ro[nro++] = module;
		softhsm_paths(module, hsm_conf, tokendir, sizeof(tokendir));
		if (hsm_conf[0] != '\0')
			ro[nro++] = hsm_conf;
	} else if (p12[0] != '\0') {
		ro[nro++] = p12;
	}
	/* The audit counter's folder must exist before the sandbox names it
	 * (a tenant made before the keys process kept the count has none);
	 * the role's policy (role.c) lets it be written. */
	if (str_fmt(audit, sizeof(audit), "%s/%s", ctx->data_dir, KEYS_AUDIT_DIR) < 0 ||
	    (mkdir(audit, 0700) < 0 && errno != EEXIST))
		return start_failed(ctx, "cannot create " KEYS_AUDIT_DIR);
	/* DKIM is set up but this tenant has no key yet (made before DKIM):
	 * make it now, while the keys folder can still be written. */
	{
		const char *sel = conf_str(ctx->conf, "mail", "dkim_selector");
		char dkim[PATH_MAX];
		if (sel != NULL && sel[0] != '\0') {
			if (keys_create_dkim(ctx->data_dir, &e) < 0)
				return start_failed(ctx, e.msg);
			/* Made as root, it goes to the user role_confine drops to,
			 * as the tenant key did when `tayori run` took the tenant. */
			if (ctx->drop_user &&
			    (str_fmt(dkim, sizeof(dkim), "%s/%s", ctx->data_dir, KEYS_DKIM_KEY) < 0 ||
			     chown(dkim, ctx->run_uid, ctx->run_gid) < 0))
				return start_failed(ctx, "cannot give " KEYS_DKIM_KEY " to the service user");
		}
	}
	if (tokendir[0] != '\0')
		rw[0] = tokendir;
	if (role_confine(ctx, rw, ro, NULL, &e) < 0)
		return start_failed(ctx, e.msg);
	if (keys_state_load_cred(ctx->data_dir, &cc, &ks, &e) < 0)
		return start_failed(ctx, e.msg);
	log_credential(keys_state_credential(ks));
	keys_ready_send(ctx->parent_fd, NULL);
	log_info("event=ready");
	for (;;) {
		struct keys_perms perms;
		int fd;
		pthread_t tid;
		struct client *c;
		if (keys_channel_accept(ctx->parent_fd, &perms, &fd, &e) < 0)
			break; /* the supervisor is gone or stopping us */
		if (__atomic_load_n(&active_clients, __ATOMIC_RELAXED) >= MAX_CLIENTS ||
		    (perms.ops & ~KEYS_PERM_ALL) != 0) {
			log_warn("event=client_refused perms=%u", perms.ops);
			close(fd);
			continue;
		}
		c = xcalloc(1, sizeof(*c));
		*c = (struct client){ ks, fd, perms };
		__atomic_fetch_add(&active_clients, 1, __ATOMIC_RELAXED);
		if (pthread_create(&tid, NULL, client_thread, c) != 0) {
			__atomic_fetch_sub(&active_clients, 1, __ATOMIC_RELAXED);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(tid);
	}
	/* Threads still serving end with the process. */
	return 0;
}
