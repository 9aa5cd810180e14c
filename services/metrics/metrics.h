#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace bizrelay::metrics {

// Label pairs of one series. Values come from the code's own vocabulary (method names, status
// codes, path names), never from a request: Registry refuses a value with characters outside
// [A-Za-z0-9_./-], so no id, token or text can become a label by accident.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count. Lock-free; any thread.
class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down. Lock-free; any thread.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
// Observe is lock-free (one bucket increment and one sum update, relaxed); a reader may see
// the sum and the buckets of slightly different moments, as Prometheus clients allow.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);

  void Observe(double v);

  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound, then the total (the +Inf bucket).
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 buckets
  std::atomic<double> sum_{0};
};

// Bucket bounds: latencies in seconds from 0.5 ms to 10 s; sizes in powers of two to 4096.
const std::vector<double>& LatencyBuckets();
const std::vector<double>& SizeBuckets();

// The set of series one process exports, rendered in the Prometheus text format (0.0.4).
// Instruments are owned by the registry and live as long as it; their pointers stay valid.
// Registration and Render take mu_; recording on an instrument never does. Callbacks of
// callback gauges run under mu_ during Render and must not call into the registry.
class Registry {
 public:
  Counter* AddCounter(const std::string& name, const std::string& help, Labels labels = {});
  Gauge* AddGauge(const std::string& name, const std::string& help, Labels labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help, Labels labels,
                          const std::vector<double>& bounds);
  // A gauge read at each Render (for values another object already keeps, such as a queue's
  // length).
  void AddCallbackGauge(const std::string& name, const std::string& help, Labels labels,
                        std::function<double()> read);

  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<Series> series;
  };
  // Validates and adds a fully built series (a Render running meanwhile never sees it half
  // made).
  void AddSeries(const std::string& name, const std::string& help, Type type, Series series);

  mutable std::mutex mu_;
  std::vector<Family> families_;  // guarded by mu_; in registration order
};

}  // namespace bizrelay::metrics
