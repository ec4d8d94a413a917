/*
 * folder.h — the files of a batch, read from a folder or loose files the way
 * intake reads attachments: one recipients CSV (by .csv name), the PDFs (by
 * .pdf name or %PDF- content), message.txt / 本文.txt (settings and the
 * message), anything else as extra attachments.  Hidden files and
 * sub-folders are ignored; symbolic links are not followed.  Names are kept
 * for matching and showing, never used as paths.  Runs in the gateway and
 * in `tayori submit`.
 */
#ifndef TAYORI_FOLDER_H
#define TAYORI_FOLDER_H

#include <stddef.h>
#include "gateway/batch.h"
#include "lib/text.h"

struct batch_files {
	struct batch_file *csv, *pdfs, *extras;
	size_t ncsv, npdfs, nextras;
	size_t capcsv, cappdfs, capextras;
	char *message;          /* message.txt (UTF-8), or NULL */
	char title[TEXT_TITLE_MAX * 4 + 1]; /* the folder's name or the Subject, a title
					     * of last resort */
	char submitter[256];    /* the uploader's staff e-mail (a test batch goes there), or "" */
};

/* Add one file (path) to f; total counts bytes against max. */
int batch_files_add_file(struct batch_files *f, const char *path, size_t max, size_t *total,
			 struct error *e);
/* Add every regular file of a folder, in name order. */
int batch_files_add_folder(struct batch_files *f, const char *path, size_t max, size_t *total,
			   struct error *e);
/* Add bytes under a name (an attachment); takes ownership of data. */
void batch_files_add_bytes(struct batch_files *f, const char *name, uint8_t *data, size_t len);
/* The attachments of a parsed message (their bytes are taken over), its
 * body as the message when there is none yet, its subject as the title
 * (a Subject that is not clean text, text.h, is refused).
 * A message whose documents came as Outlook TNEF (winmail.dat) is refused
 * with how to resend. */
struct mime_message;
int batch_files_add_mime(struct batch_files *f, struct mime_message *m, struct error *e);
void batch_files_free(struct batch_files *f);
/* The identity of a folder's files for exactly-once intake (intake.h):
 * SHA-256 over each file's name and bytes (the CSV, the PDFs, the extras,
 * each in name order) and the message.  `tayori submit` of a folder and the
 * same folder dropped in the inbox have the same identity. */
void batch_files_identity(const struct batch_files *f, uint8_t id[32]);

/* A batch_input over f (which must hold exactly one CSV) with set, the
 * signing level and limits from c, and the title: the settings' title, else
 * the given one, else the folder's or message's, else お知らせ. */
struct conf;
void batch_files_input(struct batch_input *bi, const struct batch_files *f,
		       const struct batch_settings *set, const struct conf *c, const char *title,
		       const char *actor, const char *from);

#endif
