#include "services/metrics/metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <thread>

#include "services/metrics/exporter.h"

namespace bizrelay::metrics {
namespace {

TEST(RegistryTest, RendersCountersGaugesAndCumulativeHistograms) {
  Registry r;
  Counter* ok = r.AddCounter("x_total", "Things.", {{"code", "OK"}});
  r.AddCounter("x_total", "Things.", {{"code", "UNAVAILABLE"}});
  Gauge* g = r.AddGauge("depth", "Depth.");
  r.AddCallbackGauge("up", "Up.", {{"path", "hosting"}}, [] { return 1.0; });
  Histogram* h = r.AddHistogram("lat_seconds", "Latency.", {}, {0.1, 1});
  ok->Add(3);
  g->Set(2.5);
  h->Observe(0.05);
  h->Observe(0.1);  // a bound is inclusive (le)
  h->Observe(5);
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE x_total counter\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("# TYPE x_total counter", text.find("# TYPE x_total") + 1), std::string::npos)
      << "one TYPE line per family";
  EXPECT_NE(text.find("x_total{code=\"OK\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{code=\"UNAVAILABLE\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("depth 2.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("up{path=\"hosting\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum 5.15\n"), std::string::npos) << text;
}

TEST(RegistryTest, RefusesLabelValuesThatCouldCarryRequestData) {
  Registry r;
  EXPECT_THROW(r.AddCounter("a_total", "A.", {{"who", "Siti Nurhaliza"}}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("a_total", "A.", {{"q", "x\"y"}}), std::invalid_argument);
  EXPECT_THROW(r.AddCounter("bad name", "A."), std::invalid_argument);
  r.AddCounter("a_total", "A.", {{"method", "/bizrelay.v1.X/Y"}});
  EXPECT_THROW(r.AddCounter("a_total", "A.", {{"method", "/bizrelay.v1.X/Y"}}),
               std::invalid_argument);
  EXPECT_THROW(r.AddGauge("a_total", "A."), std::invalid_argument);
}

TEST(RegistryTest, CountsFromManyThreadsWithoutLoss) {
  Registry r;
  Counter* c = r.AddCounter("n_total", "N.");
  Histogram* h = r.AddHistogram("h", "H.", {}, SizeBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c->Add();
        h->Observe(3);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 400000u);
  EXPECT_EQ(h->CumulativeCounts().back(), 400000u);
  EXPECT_DOUBLE_EQ(h->sum(), 1200000.0);
}

TEST(HttpExporterTest, ServesTheRegistryOverHttp) {
  Registry r;
  r.AddCounter("served_total", "S.")->Add(7);
  HttpExporter exporter(&r);
  int port = exporter.Start("127.0.0.1:0");
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->get_header_value("Content-Type").find("version=0.0.4"), std::string::npos);
  EXPECT_NE(res->body.find("served_total 7\n"), std::string::npos) << res->body;
  EXPECT_EQ(client.Get("/other")->status, 404);
  exporter.Stop();
  EXPECT_FALSE(httplib::Client("127.0.0.1", port).Get("/metrics"));
}

}  // namespace
}  // namespace bizrelay::metrics
