#include "bench/webhook_receiver.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

#include "bench/load.h"
#include "bench/stats.h"
#include "services/webhooks/signature.h"

namespace bizrelay::bench {
namespace {

constexpr int kListenBacklog = 1024;

// Signatures older than this are refused, as the README tells receivers to do.
constexpr int64_t kMaxAgeSeconds = 300;

// True if `header` ("t=<unix seconds>,v1=<hex>[,v1=<hex>]") signs `body` under `secret` and is
// recent.
bool SignatureHolds(const std::string& header, const std::string& body, const std::string& secret) {
  std::string t;
  std::vector<std::string> v1;
  size_t start = 0;
  while (start <= header.size()) {
    size_t end = header.find(',', start);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + start, end - start);
    if (part.starts_with("t=")) t = part.substr(2);
    if (part.starts_with("v1=")) v1.emplace_back(part.substr(3));
    start = end + 1;
  }
  if (t.empty() || v1.empty()) return false;
  char* end = nullptr;
  long long when = std::strtoll(t.c_str(), &end, 10);
  if (*end != '\0' || std::llabs(static_cast<long long>(time(nullptr)) - when) > kMaxAgeSeconds) {
    return false;
  }
  const std::string expected = webhooks::HmacSha256Hex(secret, t + "." + body);
  for (const auto& candidate : v1) {
    if (candidate == expected) return true;
  }
  return false;
}

}  // namespace

WebhookReceiver::WebhookReceiver(int threads) : server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_keep_alive_max_count(1000000);
  server_->set_keep_alive_timeout(60);
  // As any production HTTP server: answers are not held back waiting for an ACK (Nagle).
  server_->set_tcp_nodelay(true);
  server_->Post(R"(/hook/(\d+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::string answer;
    res.status = Handle(std::stoi(req.matches[1]), req.get_header_value("Bizrelay-Signature"),
                        req.body, &answer);
    res.set_content(answer, "text/plain");
  });
  int listen_fd = -1;
  server_->set_socket_options([&listen_fd](socket_t fd) {
    listen_fd = fd;
    httplib::default_socket_options(fd);
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("webhook receiver: cannot bind a loopback port");
  // The library listens with a backlog of 5: connections the relay opens at once beyond that
  // would have their SYNs dropped and wait a second or more to be retried. A production
  // server's backlog is in the hundreds.
  if (::listen(listen_fd, kListenBacklog) != 0) {
    throw std::runtime_error("webhook receiver: cannot raise the listen backlog");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

WebhookReceiver::~WebhookReceiver() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string WebhookReceiver::Url(int endpoint) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/hook/" + std::to_string(endpoint);
}

void WebhookReceiver::SetSecret(int endpoint, std::string secret) {
  std::lock_guard lock(mu_);
  secrets_[endpoint] = std::move(secret);
}

int WebhookReceiver::Handle(int endpoint, const std::string& signature, const std::string& body,
                            std::string* answer) {
  const int64_t now = NowNs();
  std::string secret;
  {
    std::lock_guard lock(mu_);
    auto it = secrets_.find(endpoint);
    if (it != secrets_.end()) secret = it->second;
  }
  if (secret.empty() || !SignatureHolds(signature, body, secret)) {
    ++bad_;
    return 401;
  }
  auto event = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object()) {
    ++bad_;
    return 400;
  }
  if (event.value("type", "") == "bizrelay.verification") {
    ++verifications_;
    *answer = event.value("challenge", "");
    return 200;
  }
  int64_t sent = 0;
  auto message = event.find("message");
  if (message != event.end() && message->is_object() &&
      ParseSendTime(message->value("text", ""), &sent)) {
    arrivals_.Add(sent, now);
  }
  return 200;
}

}  // namespace bizrelay::bench
