#ifndef SLUICE_TESTGIT_H
#define SLUICE_TESTGIT_H

/* Test repositories made with the git command (test_gitsrc, test_checkout). */

/* git with a fixed identity and default branch, whatever the machine's config. */
#define TG_GIT "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main"

/* system() of a formatted shell command; its status. */
int tg_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The object id REV names in REPO, into OUT (SL_OID_HEX_MAX + 1 bytes); 0 or -1. */
int tg_rev_parse(const char *repo, const char *rev, char *out);

#endif
