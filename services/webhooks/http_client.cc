#include "services/webhooks/http_client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <mutex>
#include <stdexcept>

#include "services/webhooks/retry.h"

namespace bizrelay::webhooks {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string TransportError(CURLcode code) {
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
      return "dns";
    case CURLE_COULDNT_CONNECT:
      return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return "tls";
    case CURLE_UNSUPPORTED_PROTOCOL:
      return "protocol";
    default:
      return curl_easy_strerror(code);
  }
}

}  // namespace

struct HttpClient::Transfer {
  std::string body;
  curl_slist* headers = nullptr;
  HttpResult result;
  size_t cap = 0;
  bool truncated = false;
  Done done;
  ~Transfer() { curl_slist_free_all(headers); }
};

HttpClient::HttpClient(HttpOptions options) : options_(std::move(options)) {
  GlobalInit();
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  // Connections stay open between POSTs to the same receiver.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 256L);
}

HttpClient::~HttpClient() {
  for (auto& [easy, t] : transfers_) {
    curl_multi_remove_handle(multi_, easy);
    curl_easy_cleanup(easy);
  }
  for (CURL* easy : idle_) curl_easy_cleanup(easy);
  curl_multi_cleanup(multi_);
}

size_t HttpClient::OnBody(char* data, size_t size, size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  size_t n = size * count;
  size_t room = t->cap - std::min(t->cap, t->result.body.size());
  t->result.body.append(data, std::min(n, room));
  if (n > room) {
    t->truncated = true;
    return 0;  // ends the transfer: the status is known, the rest is not read
  }
  return n;
}

size_t HttpClient::OnHeader(char* data, size_t size, size_t count, void* transfer) {
  auto* t = static_cast<Transfer*>(transfer);
  size_t n = size * count;
  std::string line(data, n);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size()) {
    std::string name = line.substr(0, kRetryAfter.size());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name == kRetryAfter) {
      t->result.retry_after =
          ParseRetryAfter(line.substr(kRetryAfter.size()), static_cast<int64_t>(time(nullptr)));
    }
  }
  return n;
}

curl_socket_t HttpClient::OnOpenSocket(void* client, curlsocktype, curl_sockaddr* address) {
  const auto* self = static_cast<const HttpClient*>(client);
  if (!self->options_.policy.allow_private_targets && IsForbiddenAddress(&address->addr)) {
    return CURL_SOCKET_BAD;
  }
  return socket(address->family, address->socktype, address->protocol);
}

void HttpClient::Post(const std::string& url, const std::vector<std::string>& headers,
                      std::string body, Done done) {
  CURL* easy = nullptr;
  if (!idle_.empty()) {
    easy = idle_.back();
    idle_.pop_back();
    curl_easy_reset(easy);
  } else {
    easy = curl_easy_init();
    if (easy == nullptr) throw std::runtime_error("curl_easy_init failed");
  }
  auto t = std::make_unique<Transfer>();
  t->body = std::move(body);
  t->cap = options_.max_response_bytes;
  t->done = std::move(done);
  t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
  t->headers = curl_slist_append(t->headers, "Expect:");
  for (const auto& h : headers) t->headers = curl_slist_append(t->headers, h.c_str());

  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR,
                   options_.policy.allow_plain_http ? "http,https" : "https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "bizrelay-webhooks/1");
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->body.size()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &HttpClient::OnBody);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &HttpClient::OnHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &HttpClient::OnOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  transfers_.emplace(easy, std::move(t));
  curl_multi_add_handle(multi_, easy);
}

void HttpClient::Finish(CURL* easy, CURLcode code) {
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  curl_multi_remove_handle(multi_, easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  bool answered = code == CURLE_OK || (code == CURLE_WRITE_ERROR && t->truncated);
  if (answered && status > 0) {
    t->result.status = status;
  } else {
    t->result.status = 0;
    t->result.error = TransportError(code);
  }
  idle_.push_back(easy);
  t->done(std::move(t->result));
}

void HttpClient::Run(std::chrono::milliseconds timeout) {
  int running = 0;
  curl_multi_perform(multi_, &running);
  int queued = 0;
  bool finished = false;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
    if (msg->msg == CURLMSG_DONE) {
      Finish(msg->easy_handle, msg->data.result);
      finished = true;
    }
  }
  if (finished) return;
  curl_multi_poll(multi_, nullptr, 0, static_cast<int>(std::max<int64_t>(0, timeout.count())),
                  nullptr);
  curl_multi_perform(multi_, &running);
  while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
    if (msg->msg == CURLMSG_DONE) Finish(msg->easy_handle, msg->data.result);
  }
}

void HttpClient::Wakeup() { curl_multi_wakeup(multi_); }

}  // namespace bizrelay::webhooks
