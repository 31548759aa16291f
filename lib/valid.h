/*
 * valid.h: format checks shared by the API and the admin tool.
 */
#ifndef FB_VALID_H
#define FB_VALID_H

/* A plausible address: local@domain, 3..254 bytes, no spaces or controls. */
bool valid_email(const char *s);

/* Lower-cases ASCII letters in place (addresses are compared lower-cased). */
void valid_lower(char *s);

/* RFC 3339 date-time with a Z or numeric offset, at most microseconds (6 digits). */
bool valid_rfc3339(const char *s);

/* Microseconds since 1970 (UTC) of a valid RFC 3339 time; 0 or -1. */
int valid_rfc3339_us(const char *s, int64_t *us);

/* A program slug: 3..64 of a-z, 0-9 and single inner dashes. */
bool valid_slug(const char *s);

/* A clause key: 1..64 of a-z, 0-9, '_', '.', '-', starting alphanumeric. */
bool valid_key(const char *s);

/* One of admin, staff, finance, artist. */
bool valid_role(const char *s);

#endif
