#ifndef SLUICE_BANNED_H
#define SLUICE_BANNED_H

/*
 * Functions sluice never calls (after git's banned.h): unbounded copies and
 * formatting, which sl_strbuf replaces, and the time functions that read
 * the process-wide TZ or share static state, which civil.h and tz.h
 * replace. Include this last, after every system header, so that a use
 * fails to compile with the banned name in the message.
 */

#define SL_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) SL_BANNED(strcpy)
#undef strcat
#define strcat(x, y) SL_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) SL_BANNED(strncpy)
#undef sprintf
#define sprintf(...) SL_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) SL_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) SL_BANNED(strtok)
#undef gmtime
#define gmtime(t) SL_BANNED(gmtime)
#undef localtime
#define localtime(t) SL_BANNED(localtime)
#undef mktime
#define mktime(t) SL_BANNED(mktime)
#undef ctime
#define ctime(t) SL_BANNED(ctime)
#undef asctime
#define asctime(t) SL_BANNED(asctime)

#endif
