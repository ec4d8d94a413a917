/*
 * imap_intake.c — the IMAP source of the intake (see imap_intake.h): the
 * [mail] settings read into a generic mailbox reader (imap_mailbox.c), and
 * every message it hands over given to intake_message(), then moved to
 * imap_processed or imap_rejected (or expunged) by the outcome.
 * Runs in the gateway process.
 */
#include "gateway/imap_intake.h"

#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/imap_mailbox.h"
#include "gateway/intake.h"
#include "lib/log.h"

enum { FOLDER_PROCESSED, FOLDER_REJECTED };

struct imap_intake {
	struct intake *in;
	struct imap_mailbox *mb;
	int expunge; /* [mail] imap_processed_delete: expunge taken messages */
};

/* What becomes of one message: intake's outcome decides.  A message intake
 * is done with is moved, or with imap_processed_delete expunged (intake
 * keeps what it needs: the SHA-256, and a refused input sealed for
 * [intake] keep_rejected); a message above message_size, never read,
 * always goes to imap_rejected. */
static enum imap_mailbox_action on_message(void *arg, const struct imap_mailbox_msg *m,
					   size_t *folder)
{
	struct imap_intake *ii = arg;
	enum intake_outcome o;
	uint64_t batch = 0;
	struct error ie = { { 0 }, 0 };
	char q[ERR_MAX + 8];

	if (m->data == NULL) {
		log_warn("event=imap_message uid=%u size=%zu outcome=too_big limit=message_size", m->uid,
			 m->size);
		*folder = FOLDER_REJECTED;
		return IMAP_MAILBOX_MOVE;
	}
	o = intake_message(ii->in, m->data, m->len, "imap", &batch, &ie);
	switch (o) {
	case INTAKE_STORED:
	case INTAKE_DUPLICATE:
		log_info("event=imap_message uid=%u size=%zu outcome=%s batch=%llu", m->uid, m->len,
			 intake_outcome_name(o), (unsigned long long)batch);
		*folder = FOLDER_PROCESSED;
		break;
	case INTAKE_REFUSED:
	case INTAKE_DROPPED:
		log_info("event=imap_message uid=%u size=%zu outcome=%s", m->uid, m->len,
			 intake_outcome_name(o));
		*folder = FOLDER_REJECTED;
		break;
	case INTAKE_TEMPFAIL:
	default:
		log_warn("event=imap_message uid=%u size=%zu outcome=tempfail reason=%s", m->uid, m->len,
			 log_quote(ie.msg, q, sizeof(q)));
		return IMAP_MAILBOX_KEEP;
	}
	return ii->expunge ? IMAP_MAILBOX_DELETE : IMAP_MAILBOX_MOVE;
}

int imap_intake_new(const struct conf *c, struct intake *in, struct imap_intake **out,
		    struct error *e)
{
	struct imap_intake *ii = xcalloc(1, sizeof(*ii));
	struct imap_mailbox_config mc;
	const char *envname = conf_str(c, "mail", "imap_password_env");
	const char *user = conf_str(c, "mail", "imap_user");
	const char *pw;
	int rc = -1;

	*out = NULL;
	ii->in = in;
	memset(&mc, 0, sizeof(mc));
	mc.url = conf_str(c, "mail", "imap_url");
	if (mc.url[0] == '\0') {
		err_set(e, "[mail] imap_url is not set");
		goto out;
	}
	if (user[0] == '\0' || strlen(user) >= 256) {
		err_set(e, "[mail] imap_user is empty or too long");
		goto out;
	}
	if (envname[0] == '\0' || (pw = getenv(envname)) == NULL || pw[0] == '\0') {
		err_set(e, "the IMAP password variable named by [mail] imap_password_env is not set");
		goto out;
	}
	mc.url_setting = "[mail] imap_url";
	mc.mailbox = conf_str(c, "mail", "imap_mailbox");
	mc.mailbox_setting = "[mail] imap_mailbox";
	mc.user = user;
	mc.password = pw;
	mc.folders[FOLDER_PROCESSED] = (struct imap_mailbox_folder){
		conf_str(c, "mail", "imap_processed"), "[mail] imap_processed", "processed" };
	mc.folders[FOLDER_REJECTED] = (struct imap_mailbox_folder){
		conf_str(c, "mail", "imap_rejected"), "[mail] imap_rejected", "rejected" };
	mc.nfolders = 2;
	mc.max_size = (size_t)conf_int(c, "limits", "message_size");
	mc.poll_ms = conf_int(c, "mail", "imap_poll") * 1000;
	ii->expunge = conf_int(c, "mail", "imap_processed_delete") != 0;
	if (imap_mailbox_new(&mc, on_message, ii, &ii->mb, e) < 0)
		goto out;
	*out = ii;
	rc = 0;
out:
	if (rc < 0)
		imap_intake_free(&ii);
	return rc;
}

void imap_intake_free(struct imap_intake **pii)
{
	struct imap_intake *ii = pii != NULL ? *pii : NULL;
	if (ii == NULL)
		return;
	imap_mailbox_free(&ii->mb);
	free(ii);
	*pii = NULL;
}

int imap_intake_step(struct imap_intake *ii, int timeout_ms, struct error *e)
{
	return imap_mailbox_step(ii->mb, timeout_ms, e);
}

int imap_intake_fd(const struct imap_intake *ii)
{
	return ii != NULL ? imap_mailbox_fd(ii->mb) : -1;
}

int imap_intake_next_ms(const struct imap_intake *ii)
{
	return imap_mailbox_next_ms(ii->mb);
}

int imap_intake_connected(const struct imap_intake *ii)
{
	return ii != NULL && imap_mailbox_connected(ii->mb);
}
