#include "sim/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace dso::sim {

namespace {

std::string fmt(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a);
  return buf;
}

std::string pad(std::string s, std::size_t width, bool left = false) {
  if (s.size() >= width) return s;
  return left ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

}  // namespace

std::string format_table(const std::vector<ReplayResult>& results, const ReplayResult* oracle) {
  std::ostringstream out;
  const ReplayResult* hpa = nullptr;
  for (const auto& r : results) {
    if (r.policy == "hpa") hpa = &r;
  }
  out << pad("policy", 10, true) << pad("SLO-violation min", 19) << pad("GPU-hours", 11)
      << pad("vs hpa", 9) << pad("scale events", 14) << pad("unserved", 11) << pad("cpu s", 8)
      << "\n";
  auto row = [&](const ReplayResult& r) {
    out << pad(r.policy, 10, true) << pad(fmt("%.1f", r.score.violation_minutes), 19)
        << pad(fmt("%.1f", r.score.gpu_hours), 11);
    if (hpa != nullptr && hpa->score.gpu_hours > 0) {
      out << pad(fmt("%+.1f%%", 100.0 * (r.score.gpu_hours / hpa->score.gpu_hours - 1.0)), 9);
    } else {
      out << pad("-", 9);
    }
    out << pad(std::to_string(r.score.scale_events), 14)
        << pad(fmt("%.3f%%", 100.0 * r.score.unserved_fraction()), 11)
        << pad(fmt("%.2f", r.cpu_seconds), 8) << "\n";
  };
  for (const auto& r : results) row(r);
  if (oracle != nullptr) {
    row(*oracle);
    out << "oracle: knows the future (provisions each replica exactly one cold start before it is "
           "needed)\n";
    for (const auto& r : results) {
      if (oracle->score.gpu_hours > 0) {
        out << "  " << r.policy << ": "
            << fmt("%+.1f%%", 100.0 * (r.score.gpu_hours / oracle->score.gpu_hours - 1.0))
            << " GPU-hours vs oracle\n";
      }
    }
  }
  return out.str();
}

std::string plan_csv(const ReplayResult& result, traces::TimestampFormat format) {
  std::string out = "timestamp,replicas\n";
  out.reserve(result.times.size() * 24);
  for (std::size_t i = 0; i < result.times.size(); ++i) {
    out += traces::format_timestamp(result.times[i], format);
    out += ',';
    out += std::to_string(result.desired[i]);
    out += '\n';
  }
  return out;
}

std::string chart_svg(const ReplayResult& r, double capacity, const std::string& title) {
  constexpr int kWidth = 1200, kHeight = 420, kLeft = 70, kRight = 60, kTop = 40, kBottom = 50;
  const int plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const std::size_t n = r.times.size();
  const std::size_t columns = std::min<std::size_t>(n, static_cast<std::size_t>(plot_w));
  std::vector<double> demand_max(columns, 0.0), ready_min(columns, 1e300), prov_max(columns, 0.0);
  std::vector<bool> violation(columns, false);
  double y_max = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = columns > 0 ? i * columns / n : 0;
    demand_max[c] = std::max(demand_max[c], r.demand[i]);
    ready_min[c] = std::min(ready_min[c], r.ready[i] * capacity);
    prov_max[c] = std::max(prov_max[c], r.provisioned[i] * capacity);
    if (r.demand[i] > r.ready[i] * capacity * (1.0 + 1e-9)) violation[c] = true;
    y_max = std::max({y_max, r.demand[i], r.provisioned[i] * capacity});
  }
  if (y_max <= 0) y_max = 1;
  y_max *= 1.05;
  auto x_of = [&](std::size_t c) {
    return kLeft +
           (columns > 1 ? static_cast<double>(c) * plot_w / static_cast<double>(columns - 1) : 0.0);
  };
  auto y_of = [&](double v) { return kTop + plot_h - v / y_max * plot_h; };
  auto polyline = [&](const std::vector<double>& v, const char* color, const char* extra) {
    std::string s = "<polyline fill=\"none\" stroke=\"";
    s += color;
    s += "\" stroke-width=\"1.2\" ";
    s += extra;
    s += " points=\"";
    char buf[48];
    for (std::size_t c = 0; c < columns; ++c) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", x_of(c), y_of(v[c]));
      s += buf;
    }
    s += "\"/>\n";
    return s;
  };
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
                "height=\"100%%\" fill=\"white\"/>\n",
                kWidth, kHeight);
  svg += buf;
  std::string escaped;
  for (const char ch : title) {
    if (ch == '<')
      escaped += "&lt;";
    else if (ch == '>')
      escaped += "&gt;";
    else if (ch == '&')
      escaped += "&amp;";
    else
      escaped += ch;
  }
  std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"22\" font-size=\"15\">", kLeft);
  svg += buf + escaped + "</text>\n";
  // Axes and ticks: left in demand units, right in replicas.
  for (int i = 0; i <= 5; ++i) {
    const double v = y_max * i / 5.0;
    // Tick labels that fit the margin: 34780, 1.25M, 0.42 (never 3.478e+04).
    char label[32];
    if (std::abs(v) >= 1e6)
      std::snprintf(label, sizeof label, "%.3gM", v / 1e6);
    else if (std::abs(v) >= 100)
      std::snprintf(label, sizeof label, "%.0f", v);
    else
      std::snprintf(label, sizeof label, "%.3g", v);
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                  "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n"
                  "<text x=\"%d\" y=\"%.1f\">%.1f</text>\n",
                  kLeft, kLeft + plot_w, y_of(v), y_of(v), kLeft - 6, y_of(v) + 4, label,
                  kLeft + plot_w + 6, y_of(v) + 4, v / capacity);
    svg += buf;
  }
  if (n > 0) {
    for (int i = 0; i <= 6; ++i) {
      const std::size_t idx = std::min(n - 1, static_cast<std::size_t>(i * (n - 1) / 6));
      const std::string label =
          traces::format_timestamp(r.times[idx], traces::TimestampFormat::kDateTime);
      std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                    kLeft + static_cast<double>(i) * plot_w / 6.0, kTop + plot_h + 18,
                    label.substr(0, 16).c_str());
      svg += buf;
    }
  }
  std::snprintf(buf, sizeof buf,
                "<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 14 %d)\">demand</text>\n"
                "<text x=\"%d\" y=\"%d\" transform=\"rotate(90 %d %d)\">replicas</text>\n",
                14, kTop + plot_h / 2, kTop + plot_h / 2, kWidth - 14, kTop + plot_h / 2,
                kWidth - 14, kTop + plot_h / 2);
  svg += buf;
  for (std::size_t c = 0; c < columns; ++c) {
    if (!violation[c]) continue;
    std::snprintf(buf, sizeof buf,
                  "<rect x=\"%.1f\" y=\"%d\" width=\"1.5\" height=\"6\" fill=\"#d62728\"/>\n",
                  x_of(c), kTop + plot_h + 1);
    svg += buf;
  }
  svg += polyline(prov_max, "#ff7f0e", "stroke-dasharray=\"4 2\"");
  svg += polyline(ready_min, "#2ca02c", "");
  svg += polyline(demand_max, "#1f77b4", "");
  std::snprintf(
      buf, sizeof buf,
      "<g font-size=\"12\"><rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" "
      "fill=\"#1f77b4\"/><text x=\"%d\" y=\"%d\">demand</text>"
      "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"#2ca02c\"/><text x=\"%d\" "
      "y=\"%d\">ready capacity</text>"
      "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"3\" fill=\"#ff7f0e\"/><text x=\"%d\" "
      "y=\"%d\">replicas (starting or ready, right axis)</text>"
      "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"6\" fill=\"#d62728\"/><text x=\"%d\" "
      "y=\"%d\">SLO violation</text></g>\n",
      kLeft, kHeight - 14, kLeft + 16, kHeight - 9, kLeft + 90, kHeight - 14, kLeft + 106,
      kHeight - 9, kLeft + 220, kHeight - 14, kLeft + 236, kHeight - 9, kLeft + 500, kHeight - 16,
      kLeft + 516, kHeight - 9);
  svg += buf;
  svg += "</svg>\n";
  return svg;
}

std::expected<void, std::string> write_file(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return std::unexpected("cannot write " + tmp + ": " + std::strerror(errno));
    out << content;
    out.close();
    if (!out) return std::unexpected("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string err = std::strerror(errno);
    std::remove(tmp.c_str());
    return std::unexpected("cannot rename " + tmp + " to " + path + ": " + err);
  }
  return {};
}

}  // namespace dso::sim
