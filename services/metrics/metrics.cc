#include "services/metrics/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace bizrelay::metrics {
namespace {

bool ValidName(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

bool ValidLabelValue(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
           c == '-';
  });
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

// `{a="x",b="y"}` with `extra` appended (the histogram's `le`); empty if there are no labels.
std::string LabelText(const Labels& labels, const std::string& extra = "") {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += k + "=\"" + v + "\"";
  }
  if (!extra.empty()) out += (out.size() > 1 ? "," : "") + extra;
  return out + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end())) {
    throw std::invalid_argument("histogram bounds must ascend");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

const std::vector<double>& SizeBuckets() {
  static const std::vector<double> kBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
  return kBuckets;
}

void Registry::AddSeries(const std::string& name, const std::string& help, Type type,
                         Series series) {
  if (!ValidName(name)) throw std::invalid_argument("bad metric name: " + name);
  for (const auto& [k, v] : series.labels) {
    if (!ValidName(k) || !ValidLabelValue(v)) {
      throw std::invalid_argument("bad label on " + name + ": " + k);
    }
  }
  std::lock_guard lock(mu_);
  auto it = std::find_if(families_.begin(), families_.end(),
                         [&](const Family& f) { return f.name == name; });
  if (it == families_.end()) {
    families_.push_back(Family{name, help, type, {}});
    it = families_.end() - 1;
  } else if (it->type != type) {
    throw std::invalid_argument("metric " + name + " registered with another type");
  }
  for (const auto& s : it->series) {
    if (s.labels == series.labels) throw std::invalid_argument("duplicate series of " + name);
  }
  it->series.push_back(std::move(series));
}

Counter* Registry::AddCounter(const std::string& name, const std::string& help, Labels labels) {
  Series s{.labels = std::move(labels), .counter = std::make_unique<Counter>()};
  Counter* raw = s.counter.get();
  AddSeries(name, help, Type::kCounter, std::move(s));
  return raw;
}

Gauge* Registry::AddGauge(const std::string& name, const std::string& help, Labels labels) {
  Series s{.labels = std::move(labels), .gauge = std::make_unique<Gauge>()};
  Gauge* raw = s.gauge.get();
  AddSeries(name, help, Type::kGauge, std::move(s));
  return raw;
}

Histogram* Registry::AddHistogram(const std::string& name, const std::string& help, Labels labels,
                                  const std::vector<double>& bounds) {
  Series s{.labels = std::move(labels), .histogram = std::make_unique<Histogram>(bounds)};
  Histogram* raw = s.histogram.get();
  AddSeries(name, help, Type::kHistogram, std::move(s));
  return raw;
}

void Registry::AddCallbackGauge(const std::string& name, const std::string& help, Labels labels,
                                std::function<double()> read) {
  AddSeries(name, help, Type::kGauge, Series{.labels = std::move(labels), .read = std::move(read)});
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& f : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + type + "\n";
    for (const auto& s : f.series) {
      if (s.counter) {
        out += f.name + LabelText(s.labels) + " " + std::to_string(s.counter->value()) + "\n";
      } else if (s.gauge || s.read) {
        double v = s.gauge ? s.gauge->value() : s.read();
        out += f.name + LabelText(s.labels) + " " + FormatValue(v) + "\n";
      } else {
        const Histogram& h = *s.histogram;
        auto counts = h.CumulativeCounts();
        for (size_t i = 0; i < counts.size(); ++i) {
          std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
          out += f.name + "_bucket" + LabelText(s.labels, "le=\"" + le + "\"") + " " +
                 std::to_string(counts[i]) + "\n";
        }
        out += f.name + "_sum" + LabelText(s.labels) + " " + FormatValue(h.sum()) + "\n";
        out += f.name + "_count" + LabelText(s.labels) + " " + std::to_string(counts.back()) + "\n";
      }
    }
  }
  return out;
}

}  // namespace bizrelay::metrics
