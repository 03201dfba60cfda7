/* text.h: small string helpers shared by every layer. */
#ifndef PGQRS_TEXT_H
#define PGQRS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* true when s is well-formed UTF-8 (no overlongs, no surrogates). */
bool pgqrs__utf8_valid(const char *s);
/* prefix, then the first line of msg, at most 300 bytes of it: server and library
 * messages are often multi-line and may be long. */
void pgqrs__first_line(char *out, size_t outlen, const char *prefix, const char *msg);

#endif
