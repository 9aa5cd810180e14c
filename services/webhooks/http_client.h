#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/webhooks/target.h"

namespace bizrelay::webhooks {

struct HttpOptions {
  TargetPolicy policy;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{10000};
  // Response bytes kept (and read: a longer body ends the transfer once its status is known).
  size_t max_response_bytes = 4096;
  // PEM CA bundle the receivers' certificates are verified against; empty: the system's.
  std::string ca_file;
};

struct HttpResult {
  // 0 if no response came (then `error` says what failed: "connect", "timeout", "tls", ...).
  long status = 0;
  std::string error;
  std::string body;  // at most max_response_bytes
  std::optional<std::chrono::seconds> retry_after;
};

// POSTs over libcurl's multi interface: one thread drives every transfer, connections are kept
// and reused per host, redirects are never followed, only http(s) is spoken, proxies from the
// environment are ignored, and every new connection's address is checked against the target
// policy when it is opened (so a name that resolves differently later is checked again).
// Not thread-safe, except Wakeup.
class HttpClient {
 public:
  using Done = std::function<void(HttpResult)>;

  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Starts a POST of `body` with `headers` ("Name: value"). `done` runs later from Run.
  void Post(const std::string& url, const std::vector<std::string>& headers, std::string body,
            Done done);
  // Moves transfers on, running `done` of those that finished, waiting up to `timeout` for
  // something to happen (or a Wakeup).
  void Run(std::chrono::milliseconds timeout);
  // Makes a Run in progress (or the next one) return early. Thread-safe.
  void Wakeup();
  size_t in_flight() const { return transfers_.size(); }

 private:
  struct Transfer;
  static size_t OnBody(char* data, size_t size, size_t count, void* transfer);
  static size_t OnHeader(char* data, size_t size, size_t count, void* transfer);
  static curl_socket_t OnOpenSocket(void* client, curlsocktype purpose, curl_sockaddr* address);
  void Finish(CURL* easy, CURLcode code);

  const HttpOptions options_;
  CURLM* multi_;
  std::vector<CURL*> idle_;  // easy handles kept for reuse
  std::map<CURL*, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace bizrelay::webhooks
