/*
 * http_int.h — private to the portal's HTTP layer (portal/http*.c): who a
 * client is for the per-address limits (http_peer.c).  Not for handlers;
 * they use http.h.  Runs in the portal process.
 */
#ifndef TAYORI_HTTP_INT_H
#define TAYORI_HTTP_INT_H

#include <stddef.h>
#include <sys/socket.h>

/* Is sa a loopback address (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104)? */
int http_peer_is_loopback(const struct sockaddr *sa);

/* The key a client is limited by, from its textual address: an IPv4
 * address as it is, an IPv6 address cut to its /64 (one subscriber's
 * prefix), anything else as it is.  out holds HTTP_IP_LEN bytes. */
void http_peer_key(const char *ip, char *out, size_t outsize);

/* Open connections per address (IPv6 by /64), in a fixed table under a
 * mutex; addresses that share a slot share its count (strict side). */
struct http_peers;
struct http_peers *http_peers_new(unsigned per_addr);
/* Count one more connection of sa and set *slot (for the release): 0, or
 * -1 (nothing counted) when sa already has per_addr. */
int http_peers_take(struct http_peers *p, const struct sockaddr *sa, size_t *slot);
/* Count one more connection of sa whatever the limit; returns its slot. */
size_t http_peers_add(struct http_peers *p, const struct sockaddr *sa);
void http_peers_release(struct http_peers *p, size_t slot);
void http_peers_free(struct http_peers **p);

#endif
