#ifndef SLUICE_CONTAINER_H
#define SLUICE_CONTAINER_H

#include <stddef.h>

/**
 * The struct that embeds `ptr` as its `member`: how a libuv callback finds
 * its object back from the handle or request it was given (the object owns
 * the handle's memory, as libuv wants).
 */
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
