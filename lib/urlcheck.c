#include "fb.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "urlcheck.h"

bool
urlcheck_addr_private(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);

		return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 24) == 0 ||
		    (a >> 20) == (172 << 4 | 1) || (a >> 16) == (192 << 8 | 168) ||
		    (a >> 16) == (169 << 8 | 254) || (a >> 22) == (100 << 2 | 1) ||
		    a >= 0xe0000000;     /* 100.64/10 shared, multicast and reserved */
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			struct sockaddr_in v4 = { .sin_family = AF_INET };

			memcpy(&v4.sin_addr, &a->s6_addr[12], 4);
			return urlcheck_addr_private((struct sockaddr *)&v4);
		}
		return IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_UNSPECIFIED(a) ||
		    IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_MULTICAST(a) ||
		    (a->s6_addr[0] & 0xfe) == 0xfc;          /* fc00::/7 unique local */
	}
	return true;
}

/* A host that is an address literal in a private range, or localhost. */
static bool
host_private(const char *host)
{
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
	char bare[256];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0 ||
	    (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0))
		return true;
	if (inet_pton(AF_INET, host, &v4.sin_addr) == 1)
		return urlcheck_addr_private((struct sockaddr *)&v4);
	if (host[0] == '[' && n > 2 && n < sizeof(bare)) {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		host = bare;
	}
	if (inet_pton(AF_INET6, host, &v6.sin6_addr) == 1)
		return urlcheck_addr_private((struct sockaddr *)&v6);
	return false;
}

const char *
urlcheck_webhook(const char *url, bool allow_private)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	const char *why = NULL;

	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		why = "must start with http:// or https://";
		goto out;
	}
	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		why = "must be an absolute http:// or https:// URL";
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		why = "must be an http:// or https:// URL";
	else if (!allow_private && host_private(host))
		why = "must not point at this machine or a private network";
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return why;
}
