/* email: addresses as identities (issue 10, look-alike addresses). */
#include "fb.h"

#include "email.h"
#include "unit.h"

/* Refused, with a message that contains part (the reason a client reads). */
static bool
refused(const char *s, const char *part)
{
	fb_err why = "";

	if (email_check(s, why)) {
		fprintf(stderr, "  accepted: %s\n", s);
		return false;
	}
	if (strstr(why, part) == NULL) {
		fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", s, why, part);
		return false;
	}
	return true;
}

static bool
accepted(const char *s)
{
	fb_err why = "";

	if (email_check(s, why))
		return true;
	fprintf(stderr, "  refused %s: %s\n", s, why);
	return false;
}

static bool
norm_is(const char *s, const char *want)
{
	char out[EMAIL_FORM_MAX];

	return email_normalize(s, out, sizeof(out)) == 0 && strcmp(out, want) == 0;
}

/* The skeletons of two addresses' normalized forms are equal. */
static bool
look_alike(const char *a, const char *b)
{
	char na[EMAIL_FORM_MAX], nb[EMAIL_FORM_MAX], sa[EMAIL_FORM_MAX], sb[EMAIL_FORM_MAX];

	return email_normalize(a, na, sizeof(na)) == 0 && email_normalize(b, nb, sizeof(nb)) == 0 &&
	    email_skeleton(na, sa, sizeof(sa)) == 0 && email_skeleton(nb, sb, sizeof(sb)) == 0 &&
	    strcmp(sa, sb) == 0;
}

/* The clash an account with `existing` makes for a new address `typed`. */
static enum email_clash
clash(const char *typed, const char *existing)
{
	struct email_identity id;
	fb_err why;

	if (!email_identify(typed, &id, why)) {
		fprintf(stderr, "  refused %s: %s\n", typed, why);
		return (enum email_clash)-1;
	}
	return email_clash_with(&id, existing);
}

static void
suite_email_check(void)
{
	char longest[300];

	/* what real people have */
	CHECK(accepted("admin@example.org"));
	CHECK(accepted("Grace.Hopper+beta@Example.ORG"));
	CHECK(accepted("first_last-2@mail.example.co.uk"));
	CHECK(accepted("admin@localhost"));
	CHECK(accepted("m\xc3\xbcller@b\xc3\xbc" "cher.de"));                 /* müller@bücher.de */
	CHECK(accepted("user@xn--bcher-kva.de"));                             /* its IDNA form */
	CHECK(accepted("\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd@\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84"));
	                                                                     /* иван@пример.рф */
	CHECK(accepted("\xe5\xb1\xb1\xe7\x94\xb0@example.jp"));              /* 山田@example.jp */
	CHECK(accepted("\xe3\x82\x84\xe3\x81\xbe\xe3\x81\xa0\xe5\xa4\xaa\xe9\x83\x8e@example.jp"));
	                                                     /* やまだ太郎: Hiragana and Han */
	CHECK(accepted("\xce\xb4\xce\xbf\xce\xba\xce\xb9\xce\xbc\xce\xae@example.gr")); /* δοκιμή */
	CHECK(accepted("e\xcc\x81" "cole@example.fr"));      /* école with a combining acute */
	CHECK(accepted("\xef\xbd\x81" "dmin@example.org"));  /* ａdmin: stored as admin */

	/* the issue's examples */
	CHECK(refused("admin@example.org\xe2\x80\x8b", "invisible or formatting character (U+200B)"));
	CHECK(refused("admin\xc2\xad@example.org", "invisible or formatting character (U+00AD)"));
	CHECK(refused("admin@example.org.", "must not end with a dot"));
	CHECK(refused("p\xd0\xb0ypal@example.org", "mixes letters of different scripts")); /* Cyrillic а */
	CHECK(refused("admin@ex\xd0\xb0mple.org", "mixes letters of different scripts"));

	/* the class: invisible, format, bidi, control, space, unassigned */
	CHECK(refused("\xe2\x81\xa0" "admin@example.org", "(U+2060)"));     /* word joiner */
	CHECK(refused("\xef\xbb\xbf" "admin@example.org", "(U+FEFF)"));     /* BOM */
	CHECK(refused("admin\xe2\x80\xae@example.org", "(U+202E)"));        /* RLO */
	CHECK(refused("admin\xe2\x80\x8e@example.org", "(U+200E)"));        /* LRM */
	CHECK(refused("ad\xe2\x80\x8dmin@example.org", "(U+200D)"));        /* ZWJ */
	CHECK(refused("admin\xef\xb8\x8f@example.org", "invisible"));       /* VS16 */
	CHECK(refused("a\xe3\x85\xa4" "b@example.org", "invisible"));       /* Hangul filler */
	CHECK(refused("a\xcd\x8f" "b@example.org", "invisible"));           /* CGJ U+034F */
	CHECK(refused("admin@example.org\xc2\x85", "control character (U+0085)"));
	CHECK(refused("admin\x01@example.org", "control character (U+0001)"));
	CHECK(refused("ad min@example.org", "space"));
	CHECK(refused("admin\xc2\xa0@example.org", "space"));               /* no-break space */
	CHECK(refused("admin\xe2\x80\xa8@example.org", "(U+2028)"));        /* line separator */
	CHECK(refused("admin\xee\x80\x80@example.org", "private-use"));     /* U+E000 */
	CHECK(refused("admin\xcd\xb8@example.org", "unassigned"));          /* U+0378 */
	CHECK(refused("admin\xff@example.org", "not valid UTF-8"));
	CHECK(refused("admin\xed\xa0\x80@example.org", "not valid UTF-8")); /* a surrogate */
	CHECK(refused("a\xcc\x81\xcc\x81" "b@example.org", "repeats a combining mark"));

	/* dots, also when NFKC makes them */
	CHECK(refused(".admin@example.org", "part before the @"));
	CHECK(refused("admin.@example.org", "part before the @"));
	CHECK(refused("ad..min@example.org", "part before the @"));
	CHECK(refused("admin@.example.org", "empty label"));
	CHECK(refused("admin@example..org", "empty label"));
	CHECK(refused("admin@example.org\xef\xbc\x8e", "must not end with a dot")); /* fullwidth . */
	CHECK(refused("admin@example\xe3\x80\x82org\xe2\x80\xa4", "must not end with a dot"));
	CHECK(refused("admin\xef\xbc\xa0" "example.org\xef\xbc\xa0" "x", "not an email address"));

	/* the shape valid_email() always had */
	CHECK(refused("admin", "not an email address"));
	CHECK(refused("admin@example", "not an email address"));
	CHECK(refused("a@b@example.org", "not an email address"));
	CHECK(refused("<admin>@example.org", "not an email address"));
	memset(longest, 'a', 250);
	strcpy(longest + 250, "@x.org");
	CHECK(refused(longest, "at most 254 bytes"));
	/* U+FDFA is one character that NFKC makes 18, with spaces */
	CHECK(refused("\xef\xb7\xba@example.org", "space"));
}

static void
suite_email_forms(void)
{
	struct email_identity id;
	char out[EMAIL_FORM_MAX];
	fb_err why;

	CHECK(norm_is("admin@example.org", "admin@example.org"));
	CHECK(norm_is("ADMIN@Example.ORG", "admin@example.org"));
	CHECK(norm_is("\xef\xbd\x81\xef\xbd\x84\xef\xbd\x8d\xef\xbd\x89\xef\xbd\x8e@example.org",
	    "admin@example.org"));                              /* ａｄｍｉｎ */
	CHECK(norm_is("\xef\xbc\xa1" "dmin@example.org", "admin@example.org")); /* Ａ */
	CHECK(norm_is("stra\xc3\x9f" "e@example.de", "strasse@example.de"));    /* ß folds to ss */
	CHECK(norm_is("e\xcc\x81@example.org", "\xc3\xa9@example.org"));       /* NFD = NFC */
	CHECK(norm_is("\xef\xac\x81" "le@example.org", "file@example.org"));   /* ﬁ ligature */
	CHECK(email_normalize("admin\xff@example.org", out, sizeof(out)) == -1);
	CHECK(email_normalize("admin@example.org", out, 5) == -1);

	/* what is stored: NFKC, lower-cased; the comparison form is the same */
	CHECK(email_identify("\xef\xbd\x81" "dmin@Example.ORG", &id, why));
	CHECK_STR(id.addr, "admin@example.org");
	CHECK_STR(id.norm, "admin@example.org");
	CHECK(email_identify("\xc3\x84rger@example.de", &id, why));            /* Ärger */
	CHECK_STR(id.addr, "\xc3\xa4rger@example.de");
	/* sign-in normalizes what is typed: the address as typed finds its account */
	CHECK(email_normalize("\xc3\x84rger@Example.de", out, sizeof(out)) == 0 &&
	    strcmp(out, id.norm) == 0);
	CHECK(!email_identify("admin@example.org\xe2\x80\x8b", &id, why));

	/* skeletons (UTS #39, ICU's data) */
	CHECK(look_alike("admin@example.org", "\xd0\xb0" "dmin@example.org")); /* Cyrillic а */
	CHECK(look_alike("opo@example.org", "\xce\xbf\xcf\x81\xce\xbf@example.org")); /* Greek ορο */
	CHECK(look_alike("modern@example.org", "rnodern@example.org"));        /* rn and m */
	CHECK(look_alike("admin1@example.org", "adminl@example.org"));         /* 1 and l */
	CHECK(look_alike("admin@example.org", "ADMIN@EXAMPLE.ORG"));
	CHECK(!look_alike("alice@example.org", "bob@example.org"));
	CHECK(!look_alike("admin@example.org", "admin@example.com"));
	CHECK(email_skeleton("admin@example.org", out, 4) == -1);

	CHECK(email_same("\xef\xbd\x81" "dmin@example.org", "ADMIN@example.org"));
	CHECK(!email_same("admin@example.org", "\xd0\xb0" "dmin@example.org"));
	CHECK(!email_same(NULL, "admin@example.org"));
}

static void
suite_email_clash(void)
{
	/* the same address, once normalized */
	CHECK(clash("admin@example.org", "admin@example.org") == EMAIL_CLASH_TAKEN);
	CHECK(clash("ADMIN@example.org", "admin@example.org") == EMAIL_CLASH_TAKEN);
	CHECK(clash("\xef\xbd\x81" "dmin@example.org", "admin@example.org") == EMAIL_CLASH_TAKEN);
	CHECK(clash("admin@example.org", "\xef\xbd\x81" "dmin@example.org") == EMAIL_CLASH_TAKEN);
	CHECK(clash("strasse@example.de", "stra\xc3\x9f" "e@example.de") == EMAIL_CLASH_TAKEN);
	/* look-alikes */
	CHECK(clash("adrnin@example.org", "admin@example.org") == EMAIL_CLASH_CONFUSABLE);
	CHECK(clash("admin@examp1e.org", "admin@example.org") == EMAIL_CLASH_CONFUSABLE);
	CHECK(clash("admin@example.org", "\xd0\xb0" "dmin@example.org") == EMAIL_CLASH_CONFUSABLE);
	/* whole-script: all Cyrillic асе, each label one script, passes the check */
	CHECK(clash("\xd0\xb0\xd1\x81\xd0\xb5@example.org", "ace@example.org") ==
	    EMAIL_CLASH_CONFUSABLE);
	/* strangers */
	CHECK(clash("alice@example.org", "admin@example.org") == EMAIL_CLASH_NONE);
	CHECK(clash("admin@example.org", "admin@example.org.evil") == EMAIL_CLASH_NONE);
}

void
suite_email(void)
{
	suite_email_check();
	suite_email_forms();
	suite_email_clash();
}
