/*
 * sandbox.h — confine a role to what its trust level needs (Linux Landlock,
 * kernel ABI 1 and later, plus no-new-privs).  Runs once in each role right
 * after fork, before the role reads any input.
 *
 *   keys      reads DATA/keys and the credential; no TCP at all (ABI >= 4)
 *   gateway   DATA/db, DATA/inbox, DATA/tmp, DATA/log; never DATA/keys
 *   mailer    DATA/db, DATA/mail, DATA/tmp, DATA/log; never DATA/keys
 *   portal    DATA/db, DATA/tmp, DATA/log; binds only its two ports
 *
 * All roles read the system directories (/usr, /etc, ...) and the config file.
 * After confining itself, a role other than keys checks that it really
 * cannot open the tenant key and refuses to run if it can.
 */
#ifndef TAYORI_SANDBOX_H
#define TAYORI_SANDBOX_H

#include "role.h"
#include "util.h"

enum sandbox_mode { SANDBOX_REQUIRED, SANDBOX_BEST_EFFORT, SANDBOX_OFF };

struct sandbox_paths {
	const char *data_dir;
	const char *conf_file;
	const char *extra_rw[6];  /* role-specific directories (NULL-terminated) */
	const char *extra_ro[4];  /* files or directories to read (credential, ...) */
	int bind_ports[2];        /* portal: the listening ports (0 = none) */
};

/* 0 when confined as asked (or mode allows running without). */
int sandbox_enter(enum role r, enum sandbox_mode mode, const struct sandbox_paths *p,
		  struct error *e);
/* The Landlock ABI version this kernel offers, 0 when none. */
int sandbox_abi(void);
/* 0 when the tenant key cannot be opened from here. */
int sandbox_check_keys_hidden(const char *data_dir, struct error *e);

#endif
