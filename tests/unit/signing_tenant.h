/*
 * signing_tenant.h — what the batch and keys-signer unit tests share: a
 * fresh demo tenant (tenant key and a self-signed DEMO signing certificate,
 * made by keys_create_tenant) with a real keys process holding the
 * credential, its LMDB store, and the gateway's keys signer over it; and
 * small real PDFs written with qpdf's C API, one Helvetica text line per
 * line of each page.  Included by one test file each, so its functions
 * are static.  Scratch folders under /tmp, removed afterwards.
 */
#ifndef TAYORI_SIGNING_TENANT_H
#define TAYORI_SIGNING_TENANT_H

#include <ftw.h>
#include <glib.h>
#include <qpdf/qpdf-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "gateway/keys_signer.h"
#include "keys/keys.h"
#include "lib/store.h"
#include "lib/util.h"

struct tenant {
	char *dir;
	struct keys_client *kc;
	pid_t pid;
	struct store *st;
	struct signer *signer;
};

static int tenant_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tenant_free(struct tenant *f)
{
	if (f == NULL)
		return;
	signer_free(&f->signer);
	store_close(&f->st);
	if (f->kc != NULL)
		keys_spawn_wait(&f->kc, f->pid);
	if (f->dir != NULL)
		nftw(f->dir, tenant_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->dir);
	free(f);
}

/* demo: with the DEMO signing credential (else the keys process has none
 * and no signer is made). */
static struct tenant *tenant_new(int demo)
{
	struct tenant *f = xcalloc(1, sizeof(*f));
	struct error e = { { 0 }, 0 };

	f->dir = xstrdup("/tmp/tayori-test-signing-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f->dir);
		f->dir = NULL;
		goto fail;
	}
	if (keys_create_tenant(f->dir, demo, "テスト区", &e) < 0 ||
	    keys_spawn(f->dir, demo ? KEYS_SIGNING_P12 : NULL, NULL, &f->kc, &f->pid, &e) < 0 ||
	    store_open(f->dir, f->kc, 1, &f->st, &e) < 0 ||
	    (demo && keys_signer_new(f->kc, &f->signer, &e) < 0)) {
		fprintf(stderr, "tenant: %s\n", e.msg);
		goto fail;
	}
	return f;
fail:
	tenant_free(f);
	return NULL;
}

/* Close the store and open it again, as a new process would. */
static inline int tenant_reopen(struct tenant *f)
{
	struct error e = { { 0 }, 0 };
	store_close(&f->st);
	if (store_open(f->dir, f->kc, 0, &f->st, &e) < 0) {
		fprintf(stderr, "reopen: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* A PDF with one page per string, each line ('\n') shown in Helvetica
 * (ASCII only).  NULL when qpdf fails; the caller frees it. */
static uint8_t *tenant_make_pdf(const char *const *pages, int n, size_t *len)
{
	qpdf_data q = qpdf_init();
	uint8_t *out = NULL;

	qpdf_silence_errors(q);
	if (qpdf_empty_pdf(q) & QPDF_ERRORS)
		goto out;
	for (int i = 0; i < n; i++) {
		GString *c = g_string_new("BT /F1 12 Tf 14 TL 72 760 Td\n");
		char **lines = g_strsplit(pages[i], "\n", -1);
		qpdf_oh font, res, page, stream;
		for (char **l = lines; *l; l++)
			g_string_append_printf(c, "(%s) Tj T*\n", *l);
		g_string_append(c, "ET\n");
		g_strfreev(lines);
		font = qpdf_make_indirect_object(q, qpdf_oh_parse(q,
			"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"));
		res = qpdf_oh_parse(q, "<< /Font << >> >>");
		qpdf_oh_replace_key(q, qpdf_oh_get_key(q, res, "/Font"), "/F1", font);
		stream = qpdf_oh_new_stream(q);
		qpdf_oh_replace_stream_data(q, stream, (unsigned char const *)c->str, c->len,
					    qpdf_oh_new_null(q), qpdf_oh_new_null(q));
		page = qpdf_oh_parse(q, "<< /Type /Page /MediaBox [0 0 595 842] >>");
		qpdf_oh_replace_key(q, page, "/Resources", res);
		qpdf_oh_replace_key(q, page, "/Contents", qpdf_make_indirect_object(q, stream));
		page = qpdf_make_indirect_object(q, page);
		g_string_free(c, TRUE);
		if (qpdf_add_page(q, q, page, QPDF_FALSE) & QPDF_ERRORS)
			goto out;
	}
	if ((qpdf_init_write_memory(q) & QPDF_ERRORS) || (qpdf_write(q) & QPDF_ERRORS))
		goto out;
	*len = qpdf_get_buffer_length(q);
	out = xmalloc(*len);
	memcpy(out, qpdf_get_buffer(q), *len);
out:
	qpdf_cleanup(&q);
	return out;
}

#endif
