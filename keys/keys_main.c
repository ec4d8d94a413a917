/*
 * keys_main.c — the keys role's main loop.  Runs in the keys process.
 *
 * It confines itself (read DATA/keys and the credential, write only
 * DATA/keys/audit, the audit chain's counter; no TCP), loads the tenant key
 * and the signing credential, then serves requests from its clients.  The
 * supervisor hands it one end of each client's channel over the control
 * channel (SCM_RIGHTS), with that channel's permissions (keys_channel_grant).
 * A client that sends a malformed or forbidden request loses its channel;
 * the supervisor then restarts that client.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "ipc.h"
#include "keys.h"
#include "log.h"
#include "role.h"
#include "sandbox.h"

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

int keys_main(struct role_ctx *ctx)
{
	struct keys_state *ks = NULL;
	struct error e = { { 0 }, 0 };
	char p12[4096], audit[4096];
	const char *ro[2] = { NULL, NULL }, *rw[2] = { NULL, NULL };

	/* Other processes of the same user must not read this one's memory,
	 * and a crash must not write the keys to disk (the supervisor did this
	 * at fork already; a keys process started otherwise needs it too). */
	sandbox_no_dumps();
	if (conf_path(ctx->conf, "signing", "p12", p12, sizeof(p12)) < 0)
		p12[0] = '\0';
	if (p12[0] != '\0')
		ro[0] = p12;
	/* The audit counter's folder must exist before the sandbox names it
	 * (a tenant made before the keys process kept the count has none). */
	if (str_fmt(audit, sizeof(audit), "%s/%s", ctx->data_dir, KEYS_AUDIT_DIR) < 0 ||
	    (mkdir(audit, 0700) < 0 && errno != EEXIST)) {
		log_err("event=start_failed reason=\"cannot create %s\"", KEYS_AUDIT_DIR);
		return 3;
	}
	rw[0] = audit;
	if (role_confine(ctx, rw, ro, NULL, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		return 3;
	}
	if (keys_state_load(ctx->data_dir, p12, conf_str(ctx->conf, "signing", "p12_pass_env"), &ks,
			    &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		return 3;
	}
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
