// predictor_bench: accuracy and speed of the predictor on real traces, by the protocols.
//
//   predictor_bench --data DIR [--folds DIR] [--write-folds DIR] [--m4] [--models a,b,...]
//
// Day-ahead protocol: resample each trace to its step (mean); for each origin (one day apart, the
// last ending at the trace's end) train on the given number of days before the test day and
// forecast the 24 h after it. MASE is scaled by the in-sample one-day seasonal-naive MAE of the
// training window; sMAPE in percent; both averaged over origins. Hour-ahead protocol: origins every
// hour over the last two days, 1 h ahead, same training length and scaling. Coverage: share of test
// points at or below the 0.9 quantile. --write-folds writes each day-ahead fold's training data
// and truth as CSV for the peers (hack/bench-predictor.sh); --folds reads their forecasts back
// (FOLD.PEER.csv with one value per line after a header, FOLD.PEER.time with CPU seconds per fit)
// and scores them with the same code. --m4 adds the M4 hourly set (414 series, 48 steps ahead). For
// experiments, environment variables override ForecastOptions of ours:auto: BENCH_TOP
// (combine_top), BENCH_WITHIN (combine_within), BENCH_TRIM (score_trim), BENCH_DAILY_WITHIN
// (daily_combine_within), BENCH_DAILY_TRIM (daily_score_trim), BENCH_CALIBRATE=0|1
// (calibrate_quantiles), BENCH_DAYS (backtest_days),
// BENCH_HEAVY=1 (auto_heavy_models); BENCH_VERBOSE=1 prints each candidate's score and time on
// stderr.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "predictor/forecast.h"
#include "traces/csv.h"

namespace {

using dso::predictor::ModelKind;
using dso::predictor::Series;
namespace fs = std::filesystem;

struct TraceSpec {
  std::string file;
  std::int64_t step;
  std::size_t train_days;
  std::size_t origins;
};

const std::vector<TraceSpec> kTraces = {
    {"nyc_taxi.csv", 1800, 56, 5},
    {"crane_input1.csv", 300, 14, 2},
    {"crane_input2.csv", 300, 14, 2},
    {"crane_input8.csv", 300, 14, 2},
};

struct Fold {
  std::vector<double> train;
  std::vector<double> test;
  std::int64_t start = 0;  // time of train[0]
  std::int64_t step = 0;
  double scale = 1;  // in-sample one-day seasonal-naive MAE
};

double snaive_mae(const std::vector<double>& y, std::size_t period) {
  double s = 0;
  std::size_t k = 0;
  for (std::size_t t = period; t < y.size(); ++t, ++k) s += std::abs(y[t] - y[t - period]);
  return k ? s / static_cast<double>(k) : 1.0;
}

Fold make_fold(const Series& s, std::size_t train_begin, std::size_t train_len,
               std::size_t test_len, std::size_t season) {
  Fold f;
  f.train.assign(s.values.begin() + static_cast<std::ptrdiff_t>(train_begin),
                 s.values.begin() + static_cast<std::ptrdiff_t>(train_begin + train_len));
  f.test.assign(s.values.begin() + static_cast<std::ptrdiff_t>(train_begin + train_len),
                s.values.begin() + static_cast<std::ptrdiff_t>(train_begin + train_len + test_len));
  f.start = s.time_at(train_begin);
  f.step = s.step;
  f.scale = snaive_mae(f.train, season);
  if (f.scale <= 0) f.scale = 1e-9;
  return f;
}

struct Score {
  double mase = 0, smape = 0, seconds = 0, covered = 0;
  std::size_t points = 0;
};

void add_errors(Score& sc, const Fold& f, const std::vector<double>& fc,
                const std::vector<double>* q90) {
  double ae = 0, sm = 0;
  for (std::size_t i = 0; i < f.test.size(); ++i) {
    ae += std::abs(fc[i] - f.test[i]);
    const double den = std::abs(fc[i]) + std::abs(f.test[i]);
    sm += den > 0 ? 200.0 * std::abs(fc[i] - f.test[i]) / den : 0.0;
    if (q90) sc.covered += f.test[i] <= (*q90)[i] ? 1 : 0;
  }
  sc.mase += ae / static_cast<double>(f.test.size()) / f.scale;
  sc.smape += sm / static_cast<double>(f.test.size());
  sc.points += f.test.size();
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// CPU time of the calling thread, in seconds: the cost on one core, unaffected by other
// processes competing for the machine (wall-clock times are printed beside it).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Run {
  Score score;
  std::vector<double> times;       // CPU seconds per fit + forecast
  std::vector<double> wall_times;  // wall-clock seconds
  std::size_t folds = 0;
  std::map<std::string, int> chosen;
};

// Runs one of our models on the folds (each timed: one fit + forecast, quantiles included).
Run run_ours(const std::vector<Fold>& folds, ModelKind kind, bool quantiles,
             std::vector<std::string> only = {}) {
  Run r;
  for (const auto& f : folds) {
    Series s{.start = f.start, .step = f.step, .values = f.train};
    dso::predictor::ForecastOptions o{.model = kind, .horizon = f.test.size(), .quantiles = {}};
    if (quantiles) o.quantiles = {0.9};
    o.candidates = only;
    if (const char* e = std::getenv("BENCH_TOP")) o.combine_top = std::strtoul(e, nullptr, 10);
    if (const char* e = std::getenv("BENCH_DAYS")) o.backtest_days = std::strtod(e, nullptr);
    if (std::getenv("BENCH_HEAVY")) o.auto_heavy_models = true;
    if (const char* e = std::getenv("BENCH_WITHIN")) o.combine_within = std::strtod(e, nullptr);
    if (const char* e = std::getenv("BENCH_TRIM")) o.score_trim = std::strtod(e, nullptr);
    if (const char* e = std::getenv("BENCH_DAILY_WITHIN"))
      o.daily_combine_within = std::strtod(e, nullptr);
    if (const char* e = std::getenv("BENCH_DAILY_TRIM"))
      o.daily_score_trim = std::strtod(e, nullptr);
    if (const char* e = std::getenv("BENCH_CALIBRATE")) o.calibrate_quantiles = std::atoi(e) != 0;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_seconds();
    const auto fc = dso::predictor::forecast(s, o);
    const double c1 = thread_cpu_seconds();
    const auto t1 = std::chrono::steady_clock::now();
    if (!fc && !only.empty()) return r;
    if (!fc) {
      std::fprintf(stderr, "forecast failed: %s\n", fc.error().c_str());
      std::exit(1);
    }
    r.times.push_back(c1 - c0);
    r.wall_times.push_back(std::chrono::duration<double>(t1 - t0).count());
    add_errors(r.score, f, fc->point, quantiles ? fc->quantile(0.9) : nullptr);
    ++r.folds;
    // "a+b+c" (a has the most weight) is tallied as "a +2".
    const auto plus = static_cast<std::size_t>(std::count(fc->model.begin(), fc->model.end(), '+'));
    ++r.chosen[fc->model.substr(0, fc->model.find('+')) +
               (plus ? " +" + std::to_string(plus) : "")];
  }
  return r;
}

std::optional<Run> read_peer(const std::vector<Fold>& folds, const fs::path& dir,
                             const std::string& peer) {
  Run r;
  for (std::size_t k = 0; k < folds.size(); ++k) {
    const fs::path base = dir / ("fold" + std::to_string(k));
    std::ifstream in(base.string() + "." + peer + ".csv");
    if (!in) return std::nullopt;
    std::string line;
    std::getline(in, line);
    std::vector<double> fc;
    while (std::getline(in, line)) {
      if (!line.empty()) fc.push_back(std::strtod(line.c_str(), nullptr));
    }
    if (fc.size() != folds[k].test.size()) {
      std::fprintf(stderr, "%s: %zu values, expected %zu\n", base.c_str(), fc.size(),
                   folds[k].test.size());
      return std::nullopt;
    }
    std::ifstream tin(base.string() + "." + peer + ".time");
    double secs = NAN;
    if (tin) tin >> secs;
    r.times.push_back(secs);
    add_errors(r.score, folds[k], fc, nullptr);
    ++r.folds;
  }
  return r;
}

void write_series_csv(const fs::path& path, const std::vector<double>& v, std::int64_t start,
                      std::int64_t step) {
  std::ofstream out(path);
  out << "ds,y\n";
  char buf[64];
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%.10g", v[i]);
    out << dso::traces::format_timestamp(start + static_cast<std::int64_t>(i) * step,
                                         dso::traces::TimestampFormat::kDateTime)
        << "," << buf << "\n";
  }
}

std::string fmt_time(double s) {
  char buf[32];
  if (std::isnan(s)) return "-";
  if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  } else if (s < 1) {
    std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", s);
  }
  return buf;
}

// M4 hourly: rows "id","v1",...; returns the numeric values per row.
std::vector<std::vector<double>> read_m4(const std::string& path) {
  std::vector<std::vector<double>> out;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::vector<double> v;
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');  // id
    while (std::getline(ss, cell, ',')) {
      cell.erase(std::remove(cell.begin(), cell.end(), '"'), cell.end());
      if (!cell.empty() && cell != "\r") v.push_back(std::strtod(cell.c_str(), nullptr));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data = DSO_BENCH_DATA_DEFAULT;
  std::string folds_dir, write_dir;
  bool m4 = false, hour = true;
  std::vector<std::string> peers = {"prophet", "statsmodels"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--data") {
      data = next();
    } else if (a == "--folds") {
      folds_dir = next();
    } else if (a == "--write-folds") {
      write_dir = next();
    } else if (a == "--m4") {
      m4 = true;
    } else if (a == "--no-hour") {
      hour = false;
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: predictor_bench [--data DIR] [--write-folds DIR] [--folds DIR] [--m4] "
          "[--no-hour]\n");
      return 0;
    } else {
      std::fprintf(stderr, "predictor_bench: unknown argument '%s'\n", a.c_str());
      return 2;
    }
  }

  struct Model {
    std::string name;
    ModelKind kind;
  };
  const std::vector<Model> ours = {{"snaive-day", ModelKind::kSeasonalNaiveDay},
                                   {"snaive-week", ModelKind::kSeasonalNaiveWeek},
                                   {"ours:hw", ModelKind::kHoltWinters},
                                   {"ours:prophet", ModelKind::kProphet},
                                   {"ours:auto", ModelKind::kAuto}};

  std::printf(
      "Day-ahead, rolling origin: MASE (sMAPE %%) averaged over origins; times: median CPU "
      "time of one fit+forecast (peers: after their MASE)\n\n");
  std::printf("| trace | step | train | origins |");
  for (const auto& m : ours) std::printf(" %s |", m.name.c_str());
  if (!folds_dir.empty()) {
    for (const auto& p : peers) std::printf(" %s |", p.c_str());
  }
  std::printf(" auto time | auto q0.9 coverage | auto chose |\n|---|---|---|---|");
  for (std::size_t k = 0; k < ours.size() + (folds_dir.empty() ? 0 : peers.size()) + 3; ++k) {
    std::printf("---|");
  }
  std::printf("\n");
  std::vector<double> best_peer_mase, auto_mase;
  std::map<std::string, std::vector<double>> peer_times;
  std::vector<double> auto_times_5min, auto_wall_5min;
  for (const auto& t : kTraces) {
    const auto loaded = dso::traces::read_series_csv(data + "/" + t.file, {.step = t.step});
    if (!loaded) {
      std::fprintf(stderr, "%s\n", loaded.error().c_str());
      return 1;
    }
    const Series& s = loaded->series;
    const std::size_t day = static_cast<std::size_t>(86400 / t.step);
    std::vector<Fold> folds;
    for (std::size_t k = 0; k < t.origins; ++k) {
      const std::size_t end = s.values.size() - (t.origins - 1 - k) * day;
      const std::size_t train_len = t.train_days * day;
      folds.push_back(make_fold(s, end - day - train_len, train_len, day, day));
    }
    const std::string stem = fs::path(t.file).stem().string();
    if (!write_dir.empty()) {
      const fs::path dir = fs::path(write_dir) / stem;
      fs::create_directories(dir);
      for (std::size_t k = 0; k < folds.size(); ++k) {
        write_series_csv(dir / ("fold" + std::to_string(k) + ".train.csv"), folds[k].train,
                         folds[k].start, folds[k].step);
        std::ofstream meta(dir / ("fold" + std::to_string(k) + ".meta"));
        meta << folds[k].test.size() << " " << folds[k].step << "\n";
      }
    }
    std::printf("| %s | %s | %zu d | %zu |", t.file.c_str(), t.step >= 1800 ? "30 min" : "5 min",
                t.train_days, t.origins);
    double best = INFINITY;
    Run auto_run;
    for (const auto& m : ours) {
      if (std::getenv("BENCH_ONLY_AUTO") && m.kind != ModelKind::kAuto) {
        std::printf(" - |");
        continue;
      }
      Run r = run_ours(folds, m.kind, m.kind == ModelKind::kAuto);
      const double mase = r.score.mase / static_cast<double>(r.folds);
      std::printf(" %.3f (%.1f)%s |", mase, r.score.smape / static_cast<double>(r.folds),
                  m.kind == ModelKind::kHoltWinters || m.kind == ModelKind::kProphet
                      ? (" " + fmt_time(median(r.times))).c_str()
                      : "");
      if (m.kind == ModelKind::kSeasonalNaiveDay || m.kind == ModelKind::kSeasonalNaiveWeek) {
        best = std::min(best, mase);
      }
      if (m.kind == ModelKind::kAuto) auto_run = r;
      if (std::getenv("BENCH_VERBOSE") && m.kind == ModelKind::kAuto) {
        for (const char* c :
             {"snaive-day", "snaive-day-level", "profile-day", "median-day", "snaive-week",
              "median-week", "snaive-week-level", "median-week-level", "mean-day-week",
              "median-lags", "prophet", "holt-winters"}) {
          Run rc = run_ours(folds, m.kind, false, {c});
          if (rc.chosen.count(c) == 0) continue;
          std::fprintf(stderr, "  %s candidate %s: %.3f %s\n", t.file.c_str(), c,
                       rc.score.mase / static_cast<double>(rc.folds),
                       fmt_time(median(rc.times)).c_str());
        }
      }
      if (std::getenv("BENCH_VERBOSE")) {
        std::fprintf(stderr, "  %s %s: %s\n", t.file.c_str(), m.name.c_str(),
                     fmt_time(median(r.times)).c_str());
      }
    }
    if (!folds_dir.empty()) {
      for (const auto& p : peers) {
        const auto r = read_peer(folds, fs::path(folds_dir) / stem, p);
        if (!r) {
          std::printf(" - |");
          continue;
        }
        const double mase = r->score.mase / static_cast<double>(r->folds);
        best = std::min(best, mase);
        std::printf(" %.3f (%.1f) %s |", mase, r->score.smape / static_cast<double>(r->folds),
                    fmt_time(median(r->times)).c_str());
        if (t.step == 300) {
          peer_times[p].insert(peer_times[p].end(), r->times.begin(), r->times.end());
        }
      }
    }
    const double am = auto_run.score.mase / static_cast<double>(auto_run.folds);
    best_peer_mase.push_back(best);
    auto_mase.push_back(am);
    if (t.step == 300) {
      auto_times_5min.insert(auto_times_5min.end(), auto_run.times.begin(), auto_run.times.end());
      auto_wall_5min.insert(auto_wall_5min.end(), auto_run.wall_times.begin(),
                            auto_run.wall_times.end());
    }
    std::string chose;
    for (const auto& [name, count] : auto_run.chosen) {
      chose += (chose.empty() ? "" : ", ") + name + " x" + std::to_string(count);
    }
    std::printf(" %s | %.3f | %s |\n", fmt_time(median(auto_run.times)).c_str(),
                auto_run.score.covered / static_cast<double>(auto_run.score.points), chose.c_str());
  }
  double ratio = 0, sum_auto = 0, sum_best = 0;
  for (std::size_t i = 0; i < auto_mase.size(); ++i) {
    ratio += auto_mase[i] / best_peer_mase[i];
    sum_auto += auto_mase[i];
    sum_best += best_peer_mase[i];
  }
  std::printf(
      "\nours:auto vs best peer per trace: mean ratio %.3f; mean MASE %.3f vs %.3f (%.1f%% "
      "lower)\n",
      ratio / static_cast<double>(auto_mase.size()), sum_auto / 4, sum_best / 4,
      100.0 * (1 - sum_auto / sum_best));
  std::printf(
      "Median fit+forecast, CPU time on one core, 14 d at 5 min (4,032 points): ours:auto "
      "%s (wall %s)",
      fmt_time(median(auto_times_5min)).c_str(), fmt_time(median(auto_wall_5min)).c_str());
  for (const auto& [p, times] : peer_times) {
    const double pm = median(times);
    std::printf("; %s %s (%.0fx)", p.c_str(), fmt_time(pm).c_str(), pm / median(auto_times_5min));
  }
  std::printf("\n");

  if (hour) {
    std::printf(
        "\nHour-ahead: origins every hour over the last two days, 1 h ahead, same "
        "training length; MASE (sMAPE %%)\n\n");
    std::printf(
        "| trace | origins | snaive-day | snaive-week | ours:auto | auto time | auto q0.9 "
        "coverage |\n|---|---|---|---|---|---|---|\n");
    for (const auto& t : kTraces) {
      const auto loaded = dso::traces::read_series_csv(data + "/" + t.file, {.step = t.step});
      const Series& s = loaded->series;
      const std::size_t day = static_cast<std::size_t>(86400 / t.step);
      const std::size_t hour_steps = 3600 / static_cast<std::size_t>(t.step);
      std::vector<Fold> folds;
      for (std::size_t k = 0; k < 48; ++k) {
        const std::size_t end = s.values.size() - (47 - k) * hour_steps;
        const std::size_t train_len = t.train_days * day;
        folds.push_back(make_fold(s, end - hour_steps - train_len, train_len, hour_steps, day));
      }
      std::printf("| %s | %zu |", t.file.c_str(), folds.size());
      Run a;
      for (const auto kind :
           {ModelKind::kSeasonalNaiveDay, ModelKind::kSeasonalNaiveWeek, ModelKind::kAuto}) {
        Run r = run_ours(folds, kind, kind == ModelKind::kAuto);
        std::printf(" %.3f (%.1f) |", r.score.mase / static_cast<double>(r.folds),
                    r.score.smape / static_cast<double>(r.folds));
        if (kind == ModelKind::kAuto) a = r;
      }
      std::printf(" %s | %.3f |\n", fmt_time(median(a.times)).c_str(),
                  a.score.covered / static_cast<double>(a.score.points));
    }
  }

  if (m4) {
    const auto train = read_m4(data + "/m4_hourly_train.csv");
    const auto test = read_m4(data + "/m4_hourly_test.csv");
    std::printf(
        "\nM4 hourly (%zu series, 48 steps ahead; MASE scaled by in-sample lag-24 naive "
        "MAE, sMAPE %%), mean over series\n\n| model | MASE | sMAPE | q0.9 coverage | "
        "median time |\n|---|---|---|---|---|\n",
        train.size());
    for (const auto kind : {ModelKind::kSeasonalNaiveDay, ModelKind::kHoltWinters,
                            ModelKind::kProphet, ModelKind::kAuto}) {
      Run r;
      for (std::size_t k = 0; k < train.size() && k < test.size(); ++k) {
        Fold f;
        f.train = train[k];
        f.test = test[k];
        f.start = 0;
        f.step = 3600;
        f.scale = snaive_mae(f.train, 24);
        if (f.scale <= 0) f.scale = 1e-9;
        Series s{.start = 0, .step = 3600, .values = f.train};
        dso::predictor::ForecastOptions o{
            .model = kind, .horizon = f.test.size(), .quantiles = {0.9}};
        if (const char* e = std::getenv("BENCH_WITHIN")) o.combine_within = std::strtod(e, nullptr);
        if (const char* e = std::getenv("BENCH_DAYS")) o.backtest_days = std::strtod(e, nullptr);
        if (const char* e = std::getenv("BENCH_TRIM")) o.score_trim = std::strtod(e, nullptr);
        if (const char* e = std::getenv("BENCH_DAILY_WITHIN"))
          o.daily_combine_within = std::strtod(e, nullptr);
        if (const char* e = std::getenv("BENCH_DAILY_TRIM"))
          o.daily_score_trim = std::strtod(e, nullptr);
        if (const char* e = std::getenv("BENCH_CALIBRATE"))
          o.calibrate_quantiles = std::atoi(e) != 0;
        const double t0 = thread_cpu_seconds();
        const auto fc = dso::predictor::forecast(s, o);
        const double t1 = thread_cpu_seconds();
        if (!fc) {
          std::fprintf(stderr, "M4 %zu: %s\n", k, fc.error().c_str());
          continue;
        }
        r.times.push_back(t1 - t0);
        add_errors(r.score, f, fc->point, fc->quantile(0.9));
        ++r.folds;
      }
      std::printf(
          "| %s | %.3f | %.2f | %.3f | %s |\n", std::string(to_string(kind)).c_str(),
          r.score.mase / static_cast<double>(r.folds), r.score.smape / static_cast<double>(r.folds),
          r.score.covered / static_cast<double>(r.score.points), fmt_time(median(r.times)).c_str());
    }
  }
  return 0;
}
