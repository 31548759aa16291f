/*
 * email.h: email addresses as account identities (ICU).
 *
 * An address that names an account is refused when it holds something a
 * reader cannot see or tell apart: controls, whitespace, format and other
 * default-ignorable characters (U+200B, U+00AD, U+FEFF, bidi controls,
 * variation selectors), unassigned and private-use code points, stacked
 * identical combining marks, a label mixing scripts beyond UTS #39's "highly
 * restrictive" level (Latin with Cyrillic, say), a trailing dot or an empty
 * domain label, and a dot at either end of the local part or two in a row.
 *
 * What is stored is the NFKC form of what was typed, lower-cased (so
 * "ａdmin@example.org", fullwidth, is stored and answered as
 * "admin@example.org"): compatibility variants are presentation forms that
 * no mail system tells apart, and UTS #46 maps domain names the same way.
 * Two addresses are the same account when their normalized forms (NFKC
 * case fold) are equal, and look alike when their UTS #39 confusable
 * skeletons are: the users table keeps both, each under a unique index, so
 * the database refuses a duplicate or a look-alike even under races.
 *
 * All functions are thread-safe; the first call loads ICU's data.
 */
#ifndef FB_EMAIL_H
#define FB_EMAIL_H

#include <libpq-fe.h>

/* Room for any form of an accepted address (bytes, with the NUL). */
#define EMAIL_FORM_MAX 1024

/* An address as the users table keeps it. */
struct email_identity {
	char addr[EMAIL_FORM_MAX];   /* stored and shown: NFKC, lower-cased */
	char norm[EMAIL_FORM_MAX];   /* users.email_norm: NFKC case fold */
	char skel[EMAIL_FORM_MAX];   /* users.email_skeleton: UTS #39 skeleton of norm */
};

enum email_clash {
	EMAIL_CLASH_NONE,
	EMAIL_CLASH_TAKEN,        /* the same address once normalized */
	EMAIL_CLASH_CONFUSABLE,   /* a different address that looks the same */
};

/*
 * Whether s may name an account. On refusal fills why with a message for the
 * "email" field (e.g. "contains an invisible or formatting character
 * (U+200B)") and returns false. The rules above apply to s and to its NFKC
 * form, so a fullwidth dot cannot sneak a trailing dot in. O(length).
 */
bool email_check(const char *s, fb_err why);

/*
 * The comparison form: NFKC case fold (NFKC_Casefold, which also drops
 * default-ignorable characters). 0, or -1 when s is not valid UTF-8 or the
 * form does not fit in outlen bytes.
 */
int email_normalize(const char *s, char *out, size_t outlen);

/* The UTS #39 confusable skeleton of a normalized address. 0 or -1, as above. */
int email_skeleton(const char *norm, char *out, size_t outlen);

/* email_check(), then the three forms. false with why on refusal. */
bool email_identify(const char *s, struct email_identity *id, fb_err why);

/* Whether a and b are the same address once normalized (never for NULL). */
bool email_same(const char *a, const char *b);

/* How an existing account's stored address relates to id. */
enum email_clash email_clash_with(const struct email_identity *id, const char *other);

/*
 * The worst clash between id and the addresses in column col of every row of
 * res. For the rows SELECT_PENDING returns: accounts not yet given a
 * normalized form and skeleton (see `fairbeta migrate`), which the unique
 * indexes cannot see. O(rows); there are none once migrate has run.
 */
enum email_clash email_clash_rows(const struct email_identity *id, const PGresult *res,
    int col);

#define EMAIL_SQL_PENDING "SELECT email FROM users WHERE email_skeleton IS NULL"
enum { EMAIL_PENDING_COL_EMAIL };

/*
 * Which of taken or confusable an INSERT that did nothing met ($1 norm,
 * $2 skeleton, $3 stored form): one row, 't' when taken.
 */
#define EMAIL_SQL_CLASH \
	"SELECT coalesce(bool_or(email_norm = $1 OR email = lower($3)), false)" \
	"  FROM users WHERE email_norm = $1 OR email_skeleton = $2 OR email = lower($3)"
enum { EMAIL_CLASH_COL_TAKEN };

/* The problem a look-alike gets (409), at every entry point. */
#define EMAIL_SLUG_CONFUSABLE "email-confusable"
#define EMAIL_DETAIL_CONFUSABLE \
	"this email address looks like the address of an existing account; use another"

#endif
