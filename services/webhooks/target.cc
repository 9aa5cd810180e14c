#include "services/webhooks/target.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <memory>

#include "services/platform/error.h"

namespace bizrelay::webhooks {
namespace {

constexpr size_t kMaxUrlChars = 2048;
constexpr const char* kNotAllowed = "WEBHOOK_TARGET_NOT_ALLOWED";

bool ForbiddenV4(uint32_t a) {  // host order
  auto in = [a](uint32_t net, int bits) {
    uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  return in(0x00000000, 8)      // "this network", unspecified
         || in(0x0A000000, 8)   // 10/8 private
         || in(0x64400000, 10)  // 100.64/10 shared (carrier-grade NAT)
         || in(0x7F000000, 8)   // loopback
         || in(0xA9FE0000, 16)  // 169.254/16 link-local, cloud metadata
         || in(0xAC100000, 12)  // 172.16/12 private
         || in(0xC0000000, 24)  // 192.0.0/24 protocol assignments
         || in(0xC0A80000, 16)  // 192.168/16 private
         || in(0xC6120000, 15)  // 198.18/15 benchmarking
         || in(0xE0000000, 4)   // multicast
         || in(0xF0000000, 4);  // reserved, broadcast
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStringDeleter {
  void operator()(char* s) const { curl_free(s); }
};
using CurlString = std::unique_ptr<char, CurlStringDeleter>;

CurlString UrlPart(CURLU* url, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, 0) != CURLUE_OK) return nullptr;
  return CurlString(value);
}

}  // namespace

bool IsForbiddenAddress(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return ForbiddenV4(ntohl(v4->sin_addr.s_addr));
  }
  if (address->sa_family != AF_INET6) return true;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
  const in6_addr& a = v6->sin6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a) || IN6_IS_ADDR_V4COMPAT(&a)) {
    uint32_t v4 = (uint32_t{a.s6_addr[12]} << 24) | (uint32_t{a.s6_addr[13]} << 16) |
                  (uint32_t{a.s6_addr[14]} << 8) | uint32_t{a.s6_addr[15]};
    return ForbiddenV4(v4) || IN6_IS_ADDR_V4COMPAT(&a);
  }
  return IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) ||
         IN6_IS_ADDR_SITELOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a) ||
         (a.s6_addr[0] & 0xfe) == 0xfc  // fc00::/7 unique local
         || (a.s6_addr[0] == 0x20 && a.s6_addr[1] == 0x01 && a.s6_addr[2] == 0x0d &&
             a.s6_addr[3] == 0xb8)  // 2001:db8::/32 documentation
         || (a.s6_addr[0] == 0x00 && a.s6_addr[1] == 0x64 && a.s6_addr[2] == 0xff &&
             a.s6_addr[3] == 0x9b);  // 64:ff9b::/96 NAT64 (reaches IPv4 inside)
}

void CheckWebhookUrl(const std::string& url, const TargetPolicy& policy) {
  if (url.empty() || url.size() > kMaxUrlChars) {
    throw InvalidField("url", "url must be 1-2048 characters");
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    throw InvalidField("url", "url is not a valid URL");
  }
  CurlString scheme = UrlPart(parsed.get(), CURLUPART_SCHEME);
  CurlString host = UrlPart(parsed.get(), CURLUPART_HOST);
  if (!scheme || !host || std::string(host.get()).empty()) {
    throw InvalidField("url", "url needs a scheme and a host");
  }
  if (UrlPart(parsed.get(), CURLUPART_USER)) {
    throw InvalidField("url", "url must not carry user information");
  }
  std::string s = scheme.get();
  if (s != "https" && !(s == "http" && policy.allow_plain_http)) {
    throw InvalidField("url", "url must be https", kNotAllowed);
  }
  if (policy.allow_private_targets) return;
  std::string name = host.get();
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(name.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    throw InvalidField("url", "the url's host does not resolve", kNotAllowed);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(found, freeaddrinfo);
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (IsForbiddenAddress(a->ai_addr)) {
      throw InvalidField("url",
                         "the url's host resolves to a loopback, private, link-local or "
                         "metadata address",
                         kNotAllowed);
    }
  }
}

}  // namespace bizrelay::webhooks
