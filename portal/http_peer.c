/*
 * http_peer.c — who a client is, for the per-address limits of the
 * portal's HTTP layer (see http_int.h): loopback detection, the key an
 * address is limited by (IPv6 by /64, RFC 6177's usual subscriber
 * prefix), and the count of open connections per address.  Runs in the
 * portal process, on the listener's threads.
 */
#include "portal/http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portal/http.h"

#define PEER_SLOTS 8192

int http_peer_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

void http_peer_key(const char *ip, char *out, size_t outsize)
{
	struct in6_addr a;
	if (inet_pton(AF_INET6, ip, &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
		memset(a.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a, out, (socklen_t)outsize) != NULL)
			return;
	}
	str_copy(out, ip, outsize);
}

struct http_peers {
	pthread_mutex_t mu;
	unsigned per_addr;
	uint64_t seed;
	unsigned count[PEER_SLOTS];
};

struct http_peers *http_peers_new(unsigned per_addr)
{
	struct http_peers *p = xcalloc(1, sizeof(*p));
	if (random_bytes(&p->seed, sizeof(p->seed)) < 0) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->per_addr = per_addr;
	return p;
}

/* The slot of sa: a seeded hash of its IPv4 address or IPv6 /64. */
static size_t slot_of(const struct http_peers *p, const struct sockaddr *sa)
{
	const unsigned char *b = NULL;
	size_t n = 0;
	uint64_t h = 1469598103934665603ull ^ p->seed;
	if (sa->sa_family == AF_INET) {
		b = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		b = IN6_IS_ADDR_V4MAPPED(a) ? a->s6_addr + 12 : a->s6_addr;
		n = IN6_IS_ADDR_V4MAPPED(a) ? 4 : 8;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	h ^= h >> 29;
	return (size_t)(h % PEER_SLOTS);
}

int http_peers_take(struct http_peers *p, const struct sockaddr *sa, size_t *slot)
{
	size_t s = slot_of(p, sa);
	int ok;
	pthread_mutex_lock(&p->mu);
	ok = p->count[s] < p->per_addr;
	if (ok)
		p->count[s]++;
	pthread_mutex_unlock(&p->mu);
	*slot = s;
	return ok ? 0 : -1;
}

size_t http_peers_add(struct http_peers *p, const struct sockaddr *sa)
{
	size_t s = slot_of(p, sa);
	pthread_mutex_lock(&p->mu);
	p->count[s]++;
	pthread_mutex_unlock(&p->mu);
	return s;
}

void http_peers_release(struct http_peers *p, size_t slot)
{
	pthread_mutex_lock(&p->mu);
	if (slot < PEER_SLOTS && p->count[slot] > 0)
		p->count[slot]--;
	pthread_mutex_unlock(&p->mu);
}

void http_peers_free(struct http_peers **p)
{
	if (*p == NULL)
		return;
	pthread_mutex_destroy(&(*p)->mu);
	free(*p);
	*p = NULL;
}
