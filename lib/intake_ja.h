/*
 * intake_ja.h — why intake refused a batch, in plain Japanese for the
 * clerk who sent it.  Intake's reasons are one English line each (what and
 * where: "recipients.csv: line 1: no e-mail column found ..."), which the
 * command line prints as they are; staff who upload from the dashboard or
 * send by mail read them through this mapping: the kind of refusal (found
 * from the English line) gives one Japanese sentence saying what is wrong
 * and what to do, with the place (the CSV's line, the PDF's page, the
 * settings' line) when the English line names one.  The English line is
 * kept beside it for support.  Runs in the gateway (the reply mail) and
 * the portal (the upload's result page).
 */
#ifndef TAYORI_INTAKE_JA_H
#define TAYORI_INTAKE_JA_H

#include <stddef.h>

#define INTAKE_JA_MAX 1024 /* bytes: room for the longest sentence and a place */

/* The Japanese for the English reason why, into out (always terminated).
 * Returns 1 when a kind was recognised, 0 when out holds the general
 * sentence (see the English reason; ask an administrator). */
int intake_why_ja(const char *why, char *out, size_t size);

#endif
