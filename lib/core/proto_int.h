#ifndef SLUICE_PROTO_INT_H
#define SLUICE_PROTO_INT_H

/* What the encoder (proto.c) and the decoder (proto_decode.c) share: the
 * names the wire uses for each enum, indexed by the enum's value (0 is
 * never a valid value), and the frame's length prefix. */

#include <stdint.h>

#include "sluice/proto.h"

extern const char *const sl_proto__type_names[SL_PROTO_NACK + 1];
extern const char *const sl_proto__outcome_names[SL_PROTO_LOST + 1];
extern const char *const sl_proto__stream_names[SL_PROTO_STDERR + 1];

/* A big-endian 32-bit length. */
uint32_t sl_proto__get_be32(const unsigned char *p);

#endif
