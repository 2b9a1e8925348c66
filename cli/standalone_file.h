#ifndef SLUICE_CLI_STANDALONE_FILE_H
#define SLUICE_CLI_STANDALONE_FILE_H

/*
 * The per-user file through which the CLI finds a running `sluice
 * standalone`: ${XDG_STATE_HOME:-$HOME/.local/state}/sluice/standalone,
 * in a folder of mode 0700, the file 0600, both owned by the user. It holds
 * the database's connection string; standalone writes it once the scheduler
 * listens and removes it when it stops (if it is still its own).
 */

#include "sluice/strbuf.h"

/** The file's path, allocated; NULL when neither variable is usable. */
char *standalone_file_path(void);

/**
 * Write `body` (comment lines, then the connection string) to the file,
 * creating its folder. -1 with a sentence in `err` when the folder is not
 * this user's or not private.
 */
int standalone_file_write(const char *body, struct sl_strbuf *err);

/** Remove the file when it still holds `body` (another standalone may have
 *  replaced it since). */
void standalone_file_remove(const char *body);

/**
 * The connection string of the file into `conninfo`: 1 found, 0 no file,
 * -1 refused (a folder or file not private to this user, or a symlink),
 * said in `err`.
 */
int standalone_file_read(struct sl_strbuf *conninfo, struct sl_strbuf *err);

#endif
