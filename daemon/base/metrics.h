// Metrics: a small Prometheus registry (text exposition format 0.0.4). Families are created once
// at start-up; handles returned by counter()/histogram() stay valid for the registry's lifetime
// and are safe to update from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace yuer::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

class Registry {
 public:
  // Returns the counter for (name, labels), creating family and series on first use.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const Labels& labels = {});
  // A gauge read at scrape time; `read` is called on the scraping thread and must be thread-safe.
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  // The same, one series per label set of one family (e.g. {route="robot"}).
  void gauge(const std::string& name, const std::string& help, const Labels& labels, std::function<double()> read);

  // Renders every family in Prometheus text format.
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // key: rendered label set
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // key: rendered label set
    std::function<double()> gauge;
    std::map<std::string, std::function<double()>> labeled_gauges;  // key: rendered label set
  };
  Family& family(const std::string& name, const std::string& help, const char* type);

  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

// Default latency buckets in seconds, from 100 µs to 5 s.
std::vector<double> latency_buckets();

}  // namespace yuer::metrics
