/*
 * keys_main.c — the keys role's main loop.  Runs in the keys process.
 *
 * It confines itself (read DATA/keys and the credential, no TCP), loads the
 * tenant key and the signing credential, then serves requests from its
 * clients.  The supervisor hands it one end of each client's channel over
 * the control channel (SCM_RIGHTS), tagged with that channel's permissions.
 * A client that sends a malformed or forbidden request loses its channel;
 * the supervisor then restarts that client.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "conf.h"
#include "ipc.h"
#include "keys.h"
#include "log.h"
#include "role.h"

#define MAX_CLIENTS 16

struct client {
	int fd;
	unsigned perms;
};

int keys_main(struct role_ctx *ctx)
{
	struct keys_state *ks = NULL;
	struct client clients[MAX_CLIENTS];
	size_t nclients = 0;
	struct error e = { { 0 }, 0 };
	struct buf req, reply;
	char p12[4096];
	const char *ro[2] = { NULL, NULL };
	int ret = 3;

	/* Other processes of the same user must not read this one's memory. */
	prctl(PR_SET_DUMPABLE, 0);
	if (conf_path(ctx->conf, "signing", "p12", p12, sizeof(p12)) < 0)
		p12[0] = '\0';
	if (p12[0] != '\0')
		ro[0] = p12;
	if (role_confine(ctx, NULL, ro, NULL, &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		return 3;
	}
	if (keys_state_load(ctx->data_dir, p12, conf_str(ctx->conf, "signing", "p12_pass_env"), &ks,
			    &e) < 0) {
		log_err("event=start_failed reason=\"%s\"", e.msg);
		return 3;
	}
	buf_init(&req, KEYS_MAX_REQUEST);
	buf_init(&reply, KEYS_MAX_REQUEST);
	log_info("event=ready");
	for (;;) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		pfd[0] = (struct pollfd){ ctx->parent_fd, POLLIN, 0 };
		for (size_t i = 0; i < nclients; i++)
			pfd[i + 1] = (struct pollfd){ clients[i].fd, POLLIN, 0 };
		if (poll(pfd, nclients + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents) {
			uint32_t perms;
			int fd;
			if (ipc_recv_fd(ctx->parent_fd, &perms, &fd, &e) < 0) {
				ret = 0; /* supervisor gone or stopping */
				break;
			}
			if (nclients == MAX_CLIENTS || (perms & ~KEYS_PERM_ALL) != 0) {
				log_warn("event=client_refused perms=%u", perms);
				close(fd);
			} else {
				clients[nclients++] = (struct client){ fd, perms };
			}
		}
		for (size_t i = nclients; i-- > 0;) {
			uint32_t type, rtype;
			if (!pfd[i + 1].revents)
				continue;
			e.msg[0] = '\0';
			if (ipc_recv(clients[i].fd, &type, &req, KEYS_MAX_REQUEST, &e) < 0 ||
			    keys_handle(ks, clients[i].perms, type, req.data, req.len, &rtype, &reply, &e) < 0 ||
			    ipc_send(clients[i].fd, rtype, reply.data, reply.len, &e) < 0) {
				if (strcmp(e.msg, "peer closed") != 0)
					log_warn("event=client_dropped reason=\"%s\"", e.msg);
				close(clients[i].fd);
				clients[i] = clients[--nclients];
			}
		}
	}
	for (size_t i = 0; i < nclients; i++)
		close(clients[i].fd);
	buf_wipe(&req);
	buf_wipe(&reply);
	keys_state_free(&ks);
	return ret;
}
