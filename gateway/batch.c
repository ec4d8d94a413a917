/*
 * batch.c — batch_submit(): a batch from its files to the store, in three
 * steps (batch_int.h): match (batch_match.c), sign (batch_sign.c), store
 * (batch_store.c).  See batch.h for the contract.
 * Runs in the gateway and in `tayori submit`.
 */
#include "gateway/batch.h"

#include <stdlib.h>
#include <string.h>

#include "gateway/batch_int.h"
#include "lib/log.h"
#include "lib/text.h"
#include "lib/wardset.h"

/* A notice type (種類) given must be one of the ward's (the settings
 * page, lib/wardset.h): refused otherwise, naming the line. */
static int notice_type_known(struct store *st, const struct batch_settings *set,
			     struct error *e)
{
	struct wardset *ws;
	int r, known;

	if (st == NULL || set == NULL || set->notice_type == NULL || set->notice_type[0] == '\0')
		return 0;
	ws = xcalloc(1, sizeof(*ws));
	r = wardset_load(st, ws, e);
	known = r == 0 && wardset_type_known(ws->notice_types, set->notice_type);
	free(ws);
	if (r < 0)
		return -1;
	if (!known)
		return err_set(e, "settings line %zu: the notice type \"%.200s\" is not one of the "
			       "ward's notice types (see the dashboard's settings page)",
			       set->notice_type_line, set->notice_type);
	return 0;
}

int batch_submit(struct store *st, const struct signer *signer, const struct batch_input *in,
		 struct batch_report *rep, struct error *e)
{
	struct batch_plan plan;
	struct batch_stage *stage = NULL;
	struct batch_sink sink;
	struct text_problem tp;
	int ret = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&plan, 0, sizeof(plan));
	rep->test = in->set != NULL && in->set->test;
	/* Every way in checks its title (settings, --title, the Subject); this
	 * one also covers a folder's name, and any caller yet to come. */
	if (in->title != NULL && text_check(in->title, TEXT_LINE, TEXT_TITLE_MAX, &tp) < 0) {
		err_set(e, "the title: %s", tp.what);
		goto out;
	}
	if (notice_type_known(st, in->set, e) < 0 || batch_match(in, &plan, rep, e) < 0)
		goto out;
	if (in->dry_run) {
		str_copy(rep->status, "preview", sizeof(rep->status));
		ret = 0;
		goto out;
	}
	if (signer == NULL) {
		err_set(e, "no signing credential is configured");
		goto out;
	}
	/* Sign, seal and stage every PDF; then publish in one commit. */
	if (batch_store_begin(st, &plan, rep, &stage, e) < 0)
		goto out;
	sink.put = batch_store_pdf;
	sink.ctx = stage;
	if (batch_sign(signer, in, &plan, &sink, rep, e) < 0 ||
	    batch_store_commit(stage, in, &plan, rep, e) < 0) {
		rep->batch = 0;
		goto out;
	}
	log_info("event=batch_stored batch=%llu recipients=%zu matched=%zu signed=%zu",
		 (unsigned long long)rep->batch, rep->recipients, rep->matched, rep->signed_pdfs);
	ret = 0;
out:
	/* A batch not committed is removed here. */
	batch_store_end(&stage);
	if (ret < 0) {
		str_copy(rep->error, e->msg, sizeof(rep->error));
		/* exit 3 in the CLI: an internal failure, not a verdict on the input */
		str_copy(rep->status, e->temporary ? "error" : "refused", sizeof(rep->status));
	}
	batch_match_free(&plan);
	return ret;
}
