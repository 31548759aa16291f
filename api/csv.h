/*
 * csv.h: RFC 4180 output. Fields are quoted when they hold a comma, a
 * quote, CR or LF (quotes doubled); records end with CRLF.
 */
#ifndef FB_CSV_H
#define FB_CSV_H

#include <event2/buffer.h>

/* Appends one field; last ends the record. NULL is an empty field. */
void csv_field(struct evbuffer *out, const char *value, bool last);
/*
 * The same for free text (memos, names): a value a spreadsheet would run
 * as a formula (starting with =, +, -, @, tab or CR) is prefixed with '.
 */
void csv_text(struct evbuffer *out, const char *value, bool last);

#endif
