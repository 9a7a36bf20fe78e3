#include "gate/gate_io.hpp"

#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "fmt/format.h"

namespace ctb::gate {
namespace {

using json = nlohmann::json;

// nlohmann writes NaN and infinities as null; spelling it out keeps the intent visible and
// lets the reader map null back to "missing" (NaN), which every check then fails.
json number(double x) { return std::isfinite(x) ? json(x) : json(nullptr); }

class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void bad(const std::string& where, const std::string& what) const {
    throw InputError(fmt::format("{}: field '{}': {}", source_, where, what));
  }

  const json* field(const json& obj, const char* key, const std::string& where) const {
    if (!obj.is_object()) bad(where, "must be an object");
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }

  std::string text(const json& obj, const char* key, const std::string& where) const {
    const json* v = field(obj, key, where);
    if (!v) return {};
    if (!v->is_string()) bad(where + "." + key, "must be a string");
    return v->get<std::string>();
  }

  double real(const json& obj, const char* key, const std::string& where) const {
    const json* v = field(obj, key, where);
    if (!v) return kNaN;
    if (!v->is_number()) bad(where + "." + key, "must be a number or null");
    return v->get<double>();
  }

  int64_t integer(const json& obj, const char* key, const std::string& where,
                  int64_t fallback) const {
    const json* v = field(obj, key, where);
    if (!v) return fallback;
    if (!v->is_number_integer()) bad(where + "." + key, "must be an integer");
    return v->get<int64_t>();
  }

  bool boolean(const json& obj, const char* key, const std::string& where, bool fallback) const {
    const json* v = field(obj, key, where);
    if (!v) return fallback;
    if (!v->is_boolean()) bad(where + "." + key, "must be true or false");
    return v->get<bool>();
  }

  std::vector<double> series(const json& obj, const char* key, const std::string& where) const {
    const json* v = field(obj, key, where);
    std::vector<double> out;
    if (!v) return out;
    if (!v->is_array()) bad(where + "." + key, "must be an array of seconds");
    for (const json& x : *v) out.push_back(x.is_number() ? x.get<double>() : kNaN);
    return out;
  }

  TimeLimits limits(const json& obj, const char* key, const std::string& where,
                    TimeLimits fallback) const {
    const json* v = field(obj, key, where);
    if (!v) return fallback;
    const std::string here = where + "." + key;
    for (const auto& [k, _] : v->items()) {
      if (k != "threshold" && k != "implausible") bad(here + "." + k, "unknown key");
    }
    const double t = real(*v, "threshold", here);
    const double i = real(*v, "implausible", here);
    return {std::isnan(t) ? fallback.threshold : t, std::isnan(i) ? fallback.implausible : i};
  }

 private:
  std::string source_;
};

Fingerprint fingerprint_from(const Reader& r, const json& j) {
  Fingerprint fp;
  fp.cpu_model = r.text(j, "cpu_model", "fingerprint");
  fp.simd_target = r.text(j, "simd_target", "fingerprint");
  fp.threads = static_cast<int>(r.integer(j, "threads", "fingerprint", 0));
  fp.compiler = r.text(j, "compiler", "fingerprint");
  fp.build_type = r.text(j, "build_type", "fingerprint");
  return fp;
}

Measurement measurement_from(const Reader& r, const json& j, const std::string& where) {
  Measurement m;
  m.scenario = r.text(j, "scenario", where);
  if (m.scenario.empty()) r.bad(where + ".scenario", "missing");
  const std::string here = where + "(" + m.scenario + ")";
  m.n_queries = static_cast<size_t>(r.integer(j, "n_queries", here, 0));
  m.recall = r.real(j, "recall", here);
  m.approximate = r.boolean(j, "approximate", here, false);
  m.counters_stable = r.boolean(j, "counters_stable", here, false);
  if (const json* counters = r.field(j, "counters", here)) {
    if (!counters->is_object()) r.bad(here + ".counters", "must be an object");
    for (const auto& [name, value] : counters->items()) {
      // A null counter is recorded as missing; the gate then fails that check.
      if (value.is_null()) continue;
      if (!value.is_number_integer()) r.bad(here + ".counters." + name, "must be an integer");
      m.counters[name] = value.get<int64_t>();
    }
  }
  m.answer_checksum = r.text(j, "answer_checksum", here);
  m.query_seconds = r.series(j, "query_seconds", here);
  m.brute_seconds = r.series(j, "brute_seconds", here);
  m.build_seconds = r.series(j, "build_seconds", here);
  return m;
}

}  // namespace

json to_json(const Fingerprint& fp) {
  return json{{"cpu_model", fp.cpu_model},
              {"simd_target", fp.simd_target},
              {"threads", fp.threads},
              {"compiler", fp.compiler},
              {"build_type", fp.build_type}};
}

json to_json(const Measurement& m) {
  json j;
  j["scenario"] = m.scenario;
  j["n_queries"] = m.n_queries;
  j["recall"] = number(m.recall);
  j["approximate"] = m.approximate;
  j["counters_stable"] = m.counters_stable;
  j["counters"] = json::object();
  for (const auto& [name, value] : m.counters) j["counters"][name] = value;
  j["answer_checksum"] = m.answer_checksum;
  j["query_seconds"] = json::array();
  for (const double x : m.query_seconds) j["query_seconds"].push_back(number(x));
  j["brute_seconds"] = json::array();
  for (const double x : m.brute_seconds) j["brute_seconds"].push_back(number(x));
  j["build_seconds"] = json::array();
  for (const double x : m.build_seconds) j["build_seconds"].push_back(number(x));
  // Derived figures, for a reader of the file; the gate recomputes them from the raw series.
  json derived;
  for (const auto& [name, f] : {std::pair{"query_speedup_vs_brute", query_speedup(m)},
                                std::pair{"build_vs_brute_pass", build_vs_brute(m)},
                                std::pair{"brute_qps", brute_qps(m)}}) {
    derived[name] = json{{"value", number(f.value)}, {"noise", number(f.noise)}};
  }
  j["derived"] = derived;
  return j;
}

json to_json(const Baseline& b) {
  json j;
  j["schema_id"] = kBaselineSchemaId;
  j["schema_version"] = kBaselineSchemaVersion;
  j["fingerprint"] = to_json(b.fingerprint);
  j["repeat"] = b.repeat;
  j["warmup"] = b.warmup;
  j["git_revision"] = b.git_revision;
  auto limits = [](const TimeLimits& l) {
    return json{{"threshold", l.threshold}, {"implausible", l.implausible}};
  };
  j["policy"] = json{{"query", limits(b.policy.query)},
                     {"build", limits(b.policy.build)},
                     {"brute_qps", limits(b.policy.brute_qps)},
                     {"max_noise", b.policy.max_noise},
                     {"min_repetitions", b.policy.min_repetitions}};
  j["scenarios"] = json::array();
  for (const Measurement& m : b.scenarios) j["scenarios"].push_back(to_json(m));
  return j;
}

Baseline baseline_from_json(const json& j, const std::string& source) {
  const Reader r(source);
  if (!j.is_object()) r.bad("(top level)", "must be an object");
  if (r.text(j, "schema_id", "schema_id") != kBaselineSchemaId) {
    r.bad("schema_id", fmt::format("must be \"{}\" (not a gate baseline?)", kBaselineSchemaId));
  }
  if (r.integer(j, "schema_version", "schema_version", 0) != kBaselineSchemaVersion) {
    r.bad("schema_version",
          fmt::format("unsupported (this build reads {})", kBaselineSchemaVersion));
  }
  Baseline b;
  const json* fp = r.field(j, "fingerprint", "fingerprint");
  if (!fp) r.bad("fingerprint", "missing");
  b.fingerprint = fingerprint_from(r, *fp);
  b.repeat = static_cast<size_t>(r.integer(j, "repeat", "repeat", 0));
  b.warmup = static_cast<size_t>(r.integer(j, "warmup", "warmup", 0));
  b.git_revision = r.text(j, "git_revision", "git_revision");
  if (const json* p = r.field(j, "policy", "policy")) {
    for (const auto& [k, _] : p->items()) {
      if (k != "query" && k != "build" && k != "brute_qps" && k != "max_noise" &&
          k != "min_repetitions") {
        r.bad("policy." + k, "unknown key");
      }
    }
    b.policy.query = r.limits(*p, "query", "policy", b.policy.query);
    b.policy.build = r.limits(*p, "build", "policy", b.policy.build);
    b.policy.brute_qps = r.limits(*p, "brute_qps", "policy", b.policy.brute_qps);
    const double noise = r.real(*p, "max_noise", "policy");
    if (!std::isnan(noise)) b.policy.max_noise = noise;
    const int64_t reps = r.integer(*p, "min_repetitions", "policy", -1);
    if (reps >= 0) b.policy.min_repetitions = static_cast<size_t>(reps);
    try {
      validate(b.policy);
    } catch (const std::invalid_argument& e) {
      throw InputError(fmt::format("{}: {}", source, e.what()));
    }
  }
  const json* scenarios = r.field(j, "scenarios", "scenarios");
  if (!scenarios || !scenarios->is_array() || scenarios->empty()) {
    r.bad("scenarios", "must be a non-empty array");
  }
  for (size_t i = 0; i < scenarios->size(); ++i) {
    Measurement m = measurement_from(r, (*scenarios)[i], fmt::format("scenarios[{}]", i));
    if (b.find(m.scenario)) r.bad(fmt::format("scenarios[{}]", i), "duplicate " + m.scenario);
    b.scenarios.push_back(std::move(m));
  }
  return b;
}

Baseline load_baseline(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("--baseline {}: cannot be read", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("--baseline {}: not valid JSON ({})", path.string(), e.what()));
  }
  return baseline_from_json(j, path.string());
}

void save_baseline(const std::filesystem::path& path, const Baseline& baseline) {
  write_file_atomic(path, to_json(baseline).dump(2) + "\n");
}

OutputLock lock_baseline_for_record(const std::filesystem::path& path) {
  try {
    return OutputLock(path);
  } catch (const InputError& e) {
    throw InputError(std::string("gate --record: ") + e.what());
  }
}

json report_json(const GateReport& report) {
  json j;
  j["verdict"] = to_string(report.verdict);
  j["time_advisory"] = report.time_advisory;
  j["fingerprint_match"] = report.fingerprint_match;
  j["fingerprint_differences"] = report.fingerprint_notes;
  j["checks"] = json::array();
  for (const Check& c : report.checks) {
    json k;
    k["name"] = c.name();
    k["scenario"] = c.scenario;
    k["figure"] = c.figure;
    k["kind"] = to_string(c.kind);
    k["baseline"] = c.baseline_text.empty() ? number(c.baseline) : json(c.baseline_text);
    k["current"] = c.current_text.empty() ? number(c.current) : json(c.current_text);
    k["ratio"] = number(c.ratio);
    k["allowed_worsening"] = number(c.band);
    k["verdict"] = to_string(c.verdict);
    k["advisory"] = c.advisory;
    k["note"] = c.note;
    j["checks"].push_back(std::move(k));
  }
  return j;
}

namespace {

std::string show(double x, const std::string& text, CheckKind kind) {
  if (!text.empty()) return text.substr(0, 12);
  if (std::isnan(x)) return "-";
  if (kind != CheckKind::time && x == std::floor(x) && std::fabs(x) < 1e15) {
    return fmt::format("{}", static_cast<int64_t>(x));
  }
  return fmt::format("{:.4g}", x);
}

std::string verdict_cell(const Check& c) {
  std::string v = c.verdict == Verdict::pass   ? "pass"
                  : c.verdict == Verdict::fail ? "FAIL"
                                               : "INCONCLUSIVE";
  if (c.advisory) v += " (advisory)";
  return v;
}

}  // namespace

std::string report_table(const GateReport& report) {
  std::vector<std::array<std::string, 7>> rows;
  rows.push_back({"check", "baseline", "current", "ratio", "max worse", "verdict", "note"});
  for (const Check& c : report.checks) {
    rows.push_back({c.name(), show(c.baseline, c.baseline_text, c.kind),
                    show(c.current, c.current_text, c.kind),
                    std::isnan(c.ratio) ? "-" : fmt::format("{:.3f}", c.ratio),
                    std::isnan(c.band) ? "-" : fmt::format("{:.2f}x", c.band), verdict_cell(c),
                    c.note});
  }
  std::array<size_t, 7> width{};
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const bool left = i == 0 || i >= 5;
      line +=
          left ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
      if (i + 1 < row.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  if (!report.fingerprint_match) {
    out += "machine fingerprint differs from the baseline's; time checks are advisory:\n";
    for (const std::string& note : report.fingerprint_notes) out += "  " + note + "\n";
  } else if (report.time_advisory) {
    out += "time checks are advisory (--time-advisory)\n";
  }
  size_t failed = 0;
  size_t inconclusive = 0;
  std::string breaches;
  for (const Check& c : report.checks) {
    if (c.advisory) continue;
    if (c.verdict == Verdict::fail) ++failed;
    if (c.verdict == Verdict::inconclusive) ++inconclusive;
    if (c.verdict != Verdict::pass) breaches += (breaches.empty() ? "" : ", ") + c.name();
  }
  out += fmt::format("gate: {} ({} checks, {} failed, {} inconclusive{}{})\n",
                     to_string(report.verdict), report.checks.size(), failed, inconclusive,
                     breaches.empty() ? "" : ": ", breaches);
  return out;
}

}  // namespace ctb::gate
