#include "services/metrics/exporter.h"

#include <httplib.h>

#include <stdexcept>

namespace bizrelay::metrics {

HttpExporter::HttpExporter(const Registry* registry) : registry_(registry) {}

HttpExporter::~HttpExporter() { Stop(); }

int HttpExporter::Start(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("no port in " + address);
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = std::atoi(address.c_str() + colon + 1);
  server_ = std::make_unique<httplib::Server>();
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry_->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // A scrape is small and quick: a stalled client is dropped rather than held.
  server_->set_read_timeout(5, 0);
  server_->set_write_timeout(5, 0);
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) throw std::runtime_error("cannot listen on " + address);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void HttpExporter::Stop() {
  if (!server_) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace bizrelay::metrics
