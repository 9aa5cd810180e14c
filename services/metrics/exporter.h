#pragma once

#include <memory>
#include <string>
#include <thread>

#include "services/metrics/metrics.h"

namespace httplib {
class Server;
}

namespace bizrelay::metrics {

// Serves `GET /metrics` (the registry in the Prometheus text format) over plain HTTP on its own
// listener, apart from the gRPC ports, on cpp-httplib's own threads. Start and Stop are called
// by one owner thread; `registry` must outlive this.
class HttpExporter {
 public:
  explicit HttpExporter(const Registry* registry);
  ~HttpExporter();
  HttpExporter(const HttpExporter&) = delete;
  HttpExporter& operator=(const HttpExporter&) = delete;

  // Listens on "host:port" ("[v6]:port" for IPv6; port 0 picks a free one) and returns the
  // port bound. Throws std::runtime_error if the address cannot be bound.
  int Start(const std::string& address);
  // Stops listening and waits for the server thread; safe to call twice.
  void Stop();

 private:
  const Registry* const registry_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace bizrelay::metrics
