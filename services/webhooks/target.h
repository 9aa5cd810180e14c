#pragma once

#include <sys/socket.h>

#include <string>

namespace bizrelay::webhooks {

// Which webhook targets the relay may call. Both default to false: only https, and only
// public addresses (the relay must not become a way into the operator's own network).
struct TargetPolicy {
  bool allow_plain_http = false;
  bool allow_private_targets = false;
};

// Loopback, private (RFC 1918, RFC 4193), shared (RFC 6598), link-local (which holds the
// cloud metadata address 169.254.169.254), unspecified, multicast and reserved addresses, and
// IPv4 addresses mapped into IPv6. Anything that is not AF_INET or AF_INET6 counts as
// forbidden.
bool IsForbiddenAddress(const sockaddr* address);

// Checks a webhook URL: at most 2048 characters, parsed by libcurl, scheme https (or http
// with allow_plain_http), a host, no user info; unless allow_private_targets, every address
// the host resolves to must be allowed (a host that does not resolve is refused too). Throws
// InvalidField("url", ..., reason WEBHOOK_TARGET_NOT_ALLOWED) for a target the policy refuses
// and INVALID_FIELD for a malformed URL. Resolves names: blocks for as long as DNS takes.
void CheckWebhookUrl(const std::string& url, const TargetPolicy& policy);

}  // namespace bizrelay::webhooks
