/*
 * page_staff_help.h — the dashboard's help: the operations manual
 * (操作マニュアル) in Japanese, one page per task with screenshots taken
 * from the real dashboard (portal/static/help/, served from the binary),
 * and the administrator's guide (運用手順, contrib/admin-guide.md, kept in
 * the repository beside the man pages) rendered from its Markdown to
 * escaped HTML by help_md.c.  Runs in the portal process.
 */
#ifndef TAYORI_PAGE_STAFF_HELP_H
#define TAYORI_PAGE_STAFF_HELP_H

#include <stddef.h>

#include "lib/buf.h"
#include "portal/page_staff.h"

/* contrib/admin-guide.md, embedded (portal/help_admin_guide.c). */
extern const char help_admin_guide_md[];

/* The manual's index (topic NULL or ""), one task's page, or "admin" for
 * the administrator's guide: 0, 1 no such topic (nothing written), -1
 * when b's cap is reached. */
int page_staff_help(struct buf *b, const struct page_staff_user *u, const char *topic);

/* Markdown (the subset the guide uses: # headings, paragraphs, - and 1.
 * lists with indented continuation lines and code blocks, ``` code
 * blocks, `code` spans) as HTML, every character of the text escaped.
 * Headings start at level shift + 1 (the page has its own h1). */
int help_md_html(struct buf *b, const char *md, int shift);

/* A help screenshot by name ("login.png"): 0 with data and len, or -1. */
int page_help_img(const char *name, const unsigned char **data, size_t *len);

#endif
