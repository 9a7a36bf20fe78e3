#include "telemetry/diff.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "telemetry/json_line.hpp"
#include "telemetry/telemetry.hpp"

namespace ctb {

using nlohmann::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Value comparison

double as_double(const json& v) {
  if (v.is_number_unsigned()) return static_cast<double>(v.get<uint64_t>());
  if (v.is_number_integer()) return static_cast<double>(v.get<int64_t>());
  if (v.is_number_float()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return kNaN;
}

// Deep equality where numbers compare by value (8 == 8.0) and NaN equals NaN: counters and
// structural fields must match exactly, but a NaN on both sides is agreement, not a change.
bool exact_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_integer() && b.is_number_integer()) {
      if (a.is_number_unsigned() == b.is_number_unsigned()) return a == b;
      // One signed, one unsigned: equal only if both are non-negative and the same value.
      const json& s = a.is_number_unsigned() ? b : a;
      const json& u = a.is_number_unsigned() ? a : b;
      return s.get<int64_t>() >= 0 && static_cast<uint64_t>(s.get<int64_t>()) == u.get<uint64_t>();
    }
    const double x = as_double(a), y = as_double(b);
    return (std::isnan(x) && std::isnan(y)) || x == y;
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!exact_equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      const auto jt = b.find(it.key());
      if (jt == b.end() || !exact_equal(*it, *jt)) return false;
    }
    return true;
  }
  return a == b;
}

double rel_diff(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return (std::isnan(x) && std::isnan(y)) ? 0 : kNaN;
  if (x == y) return 0;  // also equal infinities
  const double scale = std::max(std::abs(x), std::abs(y));
  return std::abs(x - y) / scale;
}

bool within_tolerance(double x, double y, const Tolerance& tol) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (x == y) return true;
  if (std::isinf(x) || std::isinf(y)) return false;
  return std::abs(x - y) <= std::max(tol.abs, tol.rel * std::max(std::abs(x), std::abs(y)));
}

// ---------------------------------------------------------------------------------------------
// Statistics (numpy default linear percentiles, as `pcct telemetry render` reports them)

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

// ---------------------------------------------------------------------------------------------

std::string value_text(const json* v) { return v == nullptr ? "(absent)" : dump_json(*v); }

std::string row_kind_key(RowKind k) { return to_string(k); }

bool is_warmup(const TelemetryRow& r) {
  const auto it = r.fields.find("warmup");
  return it != r.fields.end() && it->is_boolean() && it->get<bool>();
}

// Field renames for the reference side of a cross-schema pair: reference name -> (ours, scale),
// for rows of kind `ref_kind` compared with our rows of kind `our_kind`.
struct Rename {
  std::string ours;
  double scale = 1;
};
using RenameMap = std::map<std::string, Rename>;

RenameMap renames_for(const TelemetryMapping& m, RowKind our_kind, RowKind ref_kind) {
  RenameMap out;
  for (const auto& f : m.fields) {
    if (f.row == our_kind && f.reference_row == ref_kind) out[f.reference] = {f.ours, f.scale};
  }
  return out;
}

// The reference row's fields under our names (scaled), keeping only mapped fields when
// `mapped_only` (rows of different kinds share nothing else).
json translate(const json& ref_row, const RenameMap& renames, bool mapped_only) {
  json out = json::object();
  for (auto it = ref_row.begin(); it != ref_row.end(); ++it) {
    const auto r = renames.find(it.key());
    if (r == renames.end()) {
      if (!mapped_only) out[it.key()] = *it;
      continue;
    }
    if (r->second.scale != 1 && it->is_number()) {
      out[r->second.ours] = as_double(*it) * r->second.scale;
    } else {
      out[r->second.ours] = *it;
    }
  }
  return out;
}

class PairDiffer {
 public:
  PairDiffer(const TelemetryMapping& m, const std::map<FieldClass, Tolerance>& tol,
             const DiffOptions& opt, RunPairReport& rep)
      : m_(m), tol_(tol), opt_(opt), rep_(rep) {}

  void compare_rows(const std::string& kind, int64_t index, const TelemetryRow& ra, const json& fa,
                    const TelemetryRow& rb, const json& fb) {
    ++rep_.rows_compared[kind];
    for (auto it = fa.begin(); it != fa.end(); ++it) {
      const auto jt = fb.find(it.key());
      if (jt == fb.end()) continue;
      const FieldClass cls = m_.classify(it.key(), *it, *jt);
      if (cls == FieldClass::ignore || cls == FieldClass::info) continue;
      ++rep_.fields_compared;
      bool ok = true;
      double rd = 0;
      if ((cls == FieldClass::timing || cls == FieldClass::memory || cls == FieldClass::real) &&
          it->is_number() && jt->is_number()) {
        const double x = as_double(*it), y = as_double(*jt);
        ok = within_tolerance(x, y, tol_.at(cls));
        rd = rel_diff(x, y);
      } else {
        ok = exact_equal(*it, *jt);
        if (!ok && it->is_number() && jt->is_number())
          rd = rel_diff(as_double(*it), as_double(*jt));
        if (!ok && !(it->is_number() && jt->is_number())) rd = kNaN;
      }
      if (!ok) {
        add_mismatch({kind, index, ra.line_no, rb.line_no, it.key(), cls, value_text(&*it),
                      value_text(&*jt), rd});
      }
    }
  }

  void add_mismatch(FieldMismatch mm) {
    rep_.within = false;
    ++rep_.mismatch_count;
    if (rep_.mismatches.size() < opt_.max_listed) rep_.mismatches.push_back(std::move(mm));
  }

 private:
  const TelemetryMapping& m_;
  const std::map<FieldClass, Tolerance>& tol_;
  const DiffOptions& opt_;
  RunPairReport& rep_;
};

// Config values of a run under our field names: ours from the run row, the reference's from
// its first build row (metadata is flattened onto every row) or its query_summary row.
json run_config(const TelemetryRun& run, const TelemetryMapping& m) {
  json out = json::object();
  if (!is_reference(run.source)) {
    const TelemetryRow* r = run.first(RowKind::run);
    if (r == nullptr) return out;
    for (const auto& key : run_config_keys()) {
      if (const auto it = r->fields.find(key); it != r->fields.end()) out[key] = *it;
    }
    return out;
  }
  const TelemetryRow* r = run.first(RowKind::build);
  if (r == nullptr) r = run.first(RowKind::query_summary);
  if (r == nullptr) return out;
  for (const auto& c : m.config) {
    if (const auto it = r->fields.find(c.reference); it != r->fields.end()) out[c.ours] = *it;
  }
  return out;
}

size_t config_line(const TelemetryRun& run) {
  for (RowKind k : {RowKind::run, RowKind::build, RowKind::query_summary}) {
    if (const TelemetryRow* r = run.first(k)) return r->line_no;
  }
  return run.first_line;
}

void check_config(const TelemetryRun& ra, const TelemetryRun& rb, const TelemetryMapping& m,
                  RunPairReport& rep) {
  const bool both_ours = !is_reference(ra.source) && !is_reference(rb.source);
  const json ca = run_config(ra, m);
  const json cb = run_config(rb, m);
  std::set<std::string> keys;
  if (both_ours) {
    // Same schema: every configuration key counts, including one present on one side only.
    for (auto it = ca.begin(); it != ca.end(); ++it) keys.insert(it.key());
    for (auto it = cb.begin(); it != cb.end(); ++it) keys.insert(it.key());
  } else {
    // Across schemas only the mapped keys mean the same thing; compare those both sides have.
    for (const auto& c : m.config) {
      if (ca.contains(c.ours) && cb.contains(c.ours)) keys.insert(c.ours);
    }
  }
  for (const auto& k : keys) {
    rep.config_compared.push_back(k);
    const json* va = ca.contains(k) ? &ca.at(k) : nullptr;
    const json* vb = cb.contains(k) ? &cb.at(k) : nullptr;
    if (va == nullptr || vb == nullptr || !exact_equal(*va, *vb)) {
      rep.config_differences.push_back(
          fmt::format("{}: {} vs {}", k, value_text(va), value_text(vb)));
    }
  }
}

std::vector<const TelemetryRow*> rows_of(const TelemetryRun& run, RowKind kind) {
  std::vector<const TelemetryRow*> out;
  for (const auto& r : run.rows) {
    if (r.kind == kind) out.push_back(&r);
  }
  return out;
}

std::optional<AggregateStats> aggregate(const TelemetryRun& run, const AggregateSide& side) {
  std::vector<double> values;
  size_t rows = 0;
  for (const auto& r : run.rows) {
    if (r.kind != side.rows || (r.kind == RowKind::query && is_warmup(r))) continue;
    ++rows;
    if (side.count) continue;
    double v = 0;
    bool ok = true;
    for (const auto& f : side.fields) {
      const auto it = r.fields.find(f);
      if (it == r.fields.end() || !it->is_number()) {
        ok = false;
        break;
      }
      v += as_double(*it);
    }
    if (ok) values.push_back(v * side.scale);
  }
  AggregateStats s;
  if (side.count) {
    if (rows == 0 && side.rows != RowKind::build) return std::nullopt;
    s.n = rows;
    s.sum = static_cast<double>(rows);
    s.median = s.p90 = kNaN;
    return s;
  }
  if (values.empty()) return std::nullopt;
  s.n = values.size();
  for (double v : values) s.sum += v;
  s.median = percentile(values, 50);
  s.p90 = percentile(values, 90);
  return s;
}

void compare_aggregates(const TelemetryRun& ra, const TelemetryRun& rb, const TelemetryMapping& m,
                        const std::map<FieldClass, Tolerance>& tol, RunPairReport& rep) {
  for (const auto& spec : m.aggregates) {
    AggregateComparison c;
    c.name = spec.name;
    c.unit = spec.unit;
    c.cls = spec.cls;
    c.stat = spec.stat;
    const auto& side_a = is_reference(ra.source) ? spec.reference : spec.ours;
    const auto& side_b = is_reference(rb.source) ? spec.reference : spec.ours;
    if (side_a) c.a = aggregate(ra, *side_a);
    if (side_b) c.b = aggregate(rb, *side_b);
    if (!c.a && !c.b) continue;  // neither side has it: nothing to show
    c.ratio = kNaN;
    if (c.a && c.b) {
      const bool by_median =
          spec.stat == "median" && !std::isnan(c.a->median) && !std::isnan(c.b->median);
      const double x = by_median ? c.a->median : c.a->sum;
      const double y = by_median ? c.b->median : c.b->sum;
      if (!by_median) c.stat = "sum";
      c.ratio = x != 0 ? y / x : (y == 0 ? 1.0 : kNaN);
      c.compared = c.cls != FieldClass::info && c.cls != FieldClass::ignore;
      if (c.compared) {
        c.within = (c.cls == FieldClass::counter || c.cls == FieldClass::exact)
                       ? (x == y || (std::isnan(x) && std::isnan(y)))
                       : within_tolerance(x, y, tol.at(c.cls));
        if (!c.within) rep.within = false;
      }
    }
    rep.aggregates.push_back(std::move(c));
  }
}

void diff_run_pair(const TelemetryRun& ra, const TelemetryRun& rb, const TelemetryMapping& m,
                   const std::map<FieldClass, Tolerance>& tol, const DiffOptions& opt,
                   RunPairReport& rep) {
  PairDiffer differ(m, tol, opt, rep);
  const bool cross = is_reference(ra.source) != is_reference(rb.source);

  // Which row kinds pair up: the same kind within a schema; across schemas build rows with
  // build rows, and our run row with the reference's query_summary row (mapped fields only).
  struct KindPair {
    RowKind a, b;
    bool mapped_only;
  };
  std::vector<KindPair> kinds;
  if (!cross) {
    for (RowKind k : {RowKind::run, RowKind::build, RowKind::query, RowKind::query_summary}) {
      kinds.push_back({k, k, false});
    }
  } else {
    kinds.push_back({RowKind::build, RowKind::build, false});
    kinds.push_back({is_reference(ra.source) ? RowKind::query_summary : RowKind::run,
                     is_reference(rb.source) ? RowKind::query_summary : RowKind::run, true});
  }
  for (const auto& kp : kinds) {
    const auto rows_a = rows_of(ra, kp.a);
    const auto rows_b = rows_of(rb, kp.b);
    if (rows_a.empty() && rows_b.empty()) continue;
    // The reference writes its query_summary row only for engines without batch rows, so our
    // run row having no counterpart there is normal, not a missing row.
    if (kp.mapped_only && (rows_a.empty() || rows_b.empty())) continue;
    const std::string kind =
        kp.a == kp.b ? row_kind_key(kp.a) : row_kind_key(kp.a) + "/" + row_kind_key(kp.b);
    // Bring the reference side's names to ours when the schemas differ.
    const RowKind our_kind = is_reference(ra.source) ? kp.b : kp.a;
    const RowKind ref_kind = is_reference(ra.source) ? kp.a : kp.b;
    const RenameMap renames = cross ? renames_for(m, our_kind, ref_kind) : RenameMap{};
    const auto fields_of = [&](const TelemetryRow& r, bool ref_side) {
      return (cross && ref_side) ? translate(r.fields, renames, kp.mapped_only) : r.fields;
    };
    const bool a_ref = cross && is_reference(ra.source);
    const bool b_ref = cross && is_reference(rb.source);

    // Align by index (build, query) or take the single row (run, query_summary).
    std::map<int64_t, const TelemetryRow*> ia, ib;
    for (const auto* r : rows_a) ia.emplace(r->index, r);
    for (const auto* r : rows_b) ib.emplace(r->index, r);
    std::set<std::string> keys_a, keys_b;
    for (const auto& [idx, r] : ia) {
      const json fa = fields_of(*r, a_ref);
      for (auto it = fa.begin(); it != fa.end(); ++it) keys_a.insert(it.key());
      const auto jt = ib.find(idx);
      if (jt == ib.end()) {
        rep.unaligned.push_back(
            idx >= 0 ? fmt::format("{} index {}: only in A (line {})", kind, idx, r->line_no)
                     : fmt::format("{}: only in A (line {})", kind, r->line_no));
        continue;
      }
      differ.compare_rows(kind, idx, *r, fa, *jt->second, fields_of(*jt->second, b_ref));
    }
    for (const auto& [idx, r] : ib) {
      const json fb = fields_of(*r, b_ref);
      for (auto it = fb.begin(); it != fb.end(); ++it) keys_b.insert(it.key());
      if (ia.count(idx) == 0) {
        rep.unaligned.push_back(
            idx >= 0 ? fmt::format("{} index {}: only in B (line {})", kind, idx, r->line_no)
                     : fmt::format("{}: only in B (line {})", kind, r->line_no));
      }
    }
    if (!rows_a.empty() && !rows_b.empty() && !kp.mapped_only) {
      for (const auto& k : keys_a) {
        if (keys_b.count(k) == 0) rep.only_in_a[kind].push_back(k);
      }
      for (const auto& k : keys_b) {
        if (keys_a.count(k) == 0) rep.only_in_b[kind].push_back(k);
      }
    }
  }
  // A row on one side only is a structural difference: the runs did not do the same work.
  if (!rep.unaligned.empty()) rep.within = false;
  compare_aggregates(ra, rb, m, tol, rep);
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers

std::string num(double x) {
  if (std::isnan(x)) return "-";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  if (x == std::floor(x) && std::abs(x) < 1e15) return fmt::format("{:.0f}", x);
  if (std::abs(x) >= 1000) return fmt::format("{:.1f}", x);
  return fmt::format("{:.4g}", x);
}

std::string ratio_text(double r) { return std::isnan(r) ? "-" : fmt::format("{:.3f}", r); }

std::string verdict_text(const AggregateComparison& c) {
  if (!c.compared) return c.a && c.b ? "info" : "one side";
  return c.within ? "ok" : "OUTSIDE";
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

struct Column {
  std::string title;
  bool left = false;
};

// Renders rows as an aligned text table, or as a Markdown table.
std::string table(const std::vector<Column>& cols,
                  const std::vector<std::vector<std::string>>& rows, bool markdown,
                  std::string_view indent) {
  std::string out;
  if (markdown) {
    out += "|";
    for (const auto& c : cols) out += " " + c.title + " |";
    out += "\n|";
    for (const auto& c : cols) out += c.left ? " --- |" : " ---: |";
    out += "\n";
    for (const auto& r : rows) {
      out += "|";
      for (const auto& cell : r) out += " " + cell + " |";
      out += "\n";
    }
    return out;
  }
  std::vector<size_t> width(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) width[i] = cols[i].title.size();
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string l(indent);
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i) l += "  ";
      l += cols[i].left ? fmt::format("{:<{}}", cells[i], width[i])
                        : fmt::format("{:>{}}", cells[i], width[i]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    return l + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  out += line(titles);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string render(const DiffReport& rep, bool md) {
  std::string out;
  const std::string h1 = md ? "# " : "";
  const std::string h2 = md ? "## " : "";
  const std::string h3 = md ? "### " : "  ";
  const std::string bullet = md ? "- " : "  ";
  out += h1 + "covertree-bench diff\n\n";
  out += fmt::format("{}A: {} ({} run{})\n", bullet, rep.path_a, rep.runs_a,
                     rep.runs_a == 1 ? "" : "s");
  out += fmt::format("{}B: {} ({} run{})\n", bullet, rep.path_b, rep.runs_b,
                     rep.runs_b == 1 ? "" : "s");
  std::vector<std::string> tols;
  for (const auto& [cls, t] : rep.tolerances) {
    tols.push_back(fmt::format("{} rel {} abs {}", cls, t.rel, t.abs));
  }
  out += fmt::format("{}tolerances: {}; counters exact\n", bullet, join(tols, ", "));
  for (size_t p = 0; p < rep.pairs.size(); ++p) {
    const RunPairReport& r = rep.pairs[p];
    out += fmt::format("\n{}Run pair {}: A {} [{}] vs B {} [{}], paired by {}\n\n", h2, p + 1,
                       r.run_id_a, r.source_a, r.run_id_b, r.source_b, r.paired_by);
    if (r.config_differences.empty()) {
      out += fmt::format("{}config: equal ({})\n", bullet,
                         r.config_compared.empty() ? std::string("no comparable keys")
                                                   : join(r.config_compared, ", "));
    } else {
      out += fmt::format("{}config DIFFERS{}: {}\n", bullet,
                         r.forced ? " (compared anyway: --force)" : "",
                         join(r.config_differences, "; "));
    }
    std::vector<std::string> counts;
    for (const auto& [k, n] : r.rows_compared) counts.push_back(fmt::format("{} {}", k, n));
    out += fmt::format("{}aligned rows: {}; fields compared: {}; mismatches: {}\n", bullet,
                       counts.empty() ? std::string("none") : join(counts, ", "), r.fields_compared,
                       r.mismatch_count);
    out += fmt::format("\n{}Aggregates per run\n\n", h3);
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : r.aggregates) {
      const auto stat = [](const std::optional<AggregateStats>& s, double AggregateStats::*f) {
        return s ? num((*s).*f) : std::string("-");
      };
      rows.push_back({c.name, c.unit, stat(c.a, &AggregateStats::sum),
                      stat(c.b, &AggregateStats::sum), ratio_text(c.ratio),
                      stat(c.a, &AggregateStats::median), stat(c.b, &AggregateStats::median),
                      stat(c.a, &AggregateStats::p90), stat(c.b, &AggregateStats::p90),
                      c.a ? std::to_string(c.a->n) : "-", c.b ? std::to_string(c.b->n) : "-",
                      c.stat, verdict_text(c)});
    }
    out += table({{"aggregate", true},
                  {"unit", true},
                  {"A sum"},
                  {"B sum"},
                  {"B/A"},
                  {"A median"},
                  {"B median"},
                  {"A p90"},
                  {"B p90"},
                  {"A n"},
                  {"B n"},
                  {"by", true},
                  {"verdict", true}},
                 rows, md, "    ");
    if (!r.mismatches.empty()) {
      out += fmt::format("\n{}Mismatches (first {} of {})\n\n", h3, r.mismatches.size(),
                         r.mismatch_count);
      std::vector<std::vector<std::string>> mrows;
      for (const auto& mm : r.mismatches) {
        mrows.push_back({mm.row, mm.index >= 0 ? std::to_string(mm.index) : "-", mm.field,
                         to_string(mm.cls), mm.a, mm.b, ratio_text(mm.rel_diff),
                         fmt::format("{}/{}", mm.line_a, mm.line_b)});
      }
      out += table({{"row", true},
                    {"index"},
                    {"field", true},
                    {"class", true},
                    {"A"},
                    {"B"},
                    {"rel diff"},
                    {"lines A/B"}},
                   mrows, md, "    ");
    }
    for (const auto& [side, map] : {std::pair{"A", &r.only_in_a}, std::pair{"B", &r.only_in_b}}) {
      for (const auto& [kind, fields] : *map) {
        out += fmt::format("{}{} fields only in {} ({}): {}\n", bullet, fields.size(), side, kind,
                           join(fields, ", "));
      }
    }
    if (!r.unaligned.empty()) {
      out += fmt::format("{}unaligned rows ({}): {}\n", bullet, r.unaligned.size(),
                         join(r.unaligned, "; "));
    }
  }
  if (!rep.unpaired_a.empty())
    out += fmt::format("\n{}runs only in A: {}\n", bullet, join(rep.unpaired_a, ", "));
  if (!rep.unpaired_b.empty())
    out += fmt::format("\n{}runs only in B: {}\n", bullet, join(rep.unpaired_b, ", "));
  out += fmt::format("\n{}Result: {}\n", md ? "**" : "",
                     rep.within ? std::string("within tolerance") + (md ? "**" : "")
                                : std::string("OUTSIDE tolerance") + (md ? "**" : ""));
  return out;
}

json stats_json(const std::optional<AggregateStats>& s) {
  if (!s) return nullptr;
  return {{"n", s->n}, {"sum", s->sum}, {"median", s->median}, {"p90", s->p90}};
}

}  // namespace

DiffReport diff_logs(const TelemetryLog& a, const TelemetryLog& b, const TelemetryMapping& m,
                     const DiffOptions& opt) {
  std::map<FieldClass, Tolerance> tol = m.tolerances;
  for (FieldClass c : {FieldClass::timing, FieldClass::memory, FieldClass::real})
    tol.try_emplace(c);
  if (opt.timing_rel_tol) tol[FieldClass::timing].rel = *opt.timing_rel_tol;
  if (opt.memory_rel_tol) tol[FieldClass::memory].rel = *opt.memory_rel_tol;
  if (opt.real_rel_tol) tol[FieldClass::real].rel = *opt.real_rel_tol;

  DiffReport rep;
  rep.path_a = a.path;
  rep.path_b = b.path;
  rep.runs_a = a.runs.size();
  rep.runs_b = b.runs.size();
  for (const auto& [c, t] : tol) rep.tolerances[to_string(c)] = t;

  // Pair runs: equal run_hash first (the runs are comparable by construction), then the
  // remaining runs by position.
  std::vector<std::pair<size_t, size_t>> pairs;
  std::vector<std::string> paired_by;
  std::vector<bool> used_a(a.runs.size()), used_b(b.runs.size());
  for (size_t i = 0; i < a.runs.size(); ++i) {
    if (a.runs[i].run_hash.empty()) continue;
    for (size_t j = 0; j < b.runs.size(); ++j) {
      if (!used_b[j] && b.runs[j].run_hash == a.runs[i].run_hash) {
        used_a[i] = used_b[j] = true;
        pairs.emplace_back(i, j);
        paired_by.push_back("run_hash");
        break;
      }
    }
  }
  size_t j = 0;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    if (used_a[i]) continue;
    while (j < b.runs.size() && used_b[j]) ++j;
    if (j == b.runs.size()) break;
    used_a[i] = used_b[j] = true;
    pairs.emplace_back(i, j);
    paired_by.push_back("position");
  }
  std::vector<size_t> order(pairs.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return pairs[x].first < pairs[y].first; });

  for (size_t k : order) {
    const TelemetryRun& ra = a.runs[pairs[k].first];
    const TelemetryRun& rb = b.runs[pairs[k].second];
    RunPairReport r;
    r.run_id_a = ra.run_id;
    r.run_id_b = rb.run_id;
    r.source_a = to_string(ra.source);
    r.source_b = to_string(rb.source);
    r.run_hash_a = ra.run_hash;
    r.run_hash_b = rb.run_hash;
    r.paired_by = paired_by[k];
    if (r.paired_by != "run_hash") check_config(ra, rb, m, r);
    if (!r.config_differences.empty()) {
      if (!opt.force) {
        throw InputError(
            fmt::format("{}:{} (run {}) and {}:{} (run {}) have different configurations: {}; "
                        "use --force to compare them anyway",
                        a.path, config_line(ra), ra.run_id, b.path, config_line(rb), rb.run_id,
                        join(r.config_differences, "; ")));
      }
      r.forced = true;
    }
    diff_run_pair(ra, rb, m, tol, opt, r);
    if (!r.within) rep.within = false;
    rep.pairs.push_back(std::move(r));
  }
  for (size_t i = 0; i < a.runs.size(); ++i) {
    if (!used_a[i]) rep.unpaired_a.push_back(a.runs[i].run_id);
  }
  for (size_t i = 0; i < b.runs.size(); ++i) {
    if (!used_b[i]) rep.unpaired_b.push_back(b.runs[i].run_id);
  }
  if (!rep.unpaired_a.empty() || !rep.unpaired_b.empty()) rep.within = false;
  return rep;
}

std::string render_diff_table(const DiffReport& report) { return render(report, false); }
std::string render_diff_markdown(const DiffReport& report) { return render(report, true); }

json diff_report_json(const DiffReport& rep) {
  json j = json::object();
  j["schema_id"] = "covertree_bench.diff";
  j["schema_version"] = 1;
  j["path_a"] = rep.path_a;
  j["path_b"] = rep.path_b;
  j["runs_a"] = rep.runs_a;
  j["runs_b"] = rep.runs_b;
  j["within_tolerance"] = rep.within;
  j["exit_code"] = rep.within ? 0 : 1;
  json tol = json::object();
  for (const auto& [c, t] : rep.tolerances) tol[c] = {{"rel", t.rel}, {"abs", t.abs}};
  j["tolerances"] = tol;
  j["unpaired_a"] = rep.unpaired_a;
  j["unpaired_b"] = rep.unpaired_b;
  json pairs = json::array();
  for (const auto& r : rep.pairs) {
    json p = {{"run_id_a", r.run_id_a},
              {"run_id_b", r.run_id_b},
              {"source_a", r.source_a},
              {"source_b", r.source_b},
              {"run_hash_a", r.run_hash_a},
              {"run_hash_b", r.run_hash_b},
              {"paired_by", r.paired_by},
              {"config_compared", r.config_compared},
              {"config_differences", r.config_differences},
              {"forced", r.forced},
              {"rows_compared", r.rows_compared},
              {"fields_compared", r.fields_compared},
              {"mismatch_count", r.mismatch_count},
              {"only_in_a", r.only_in_a},
              {"only_in_b", r.only_in_b},
              {"unaligned", r.unaligned},
              {"within_tolerance", r.within}};
    json mm = json::array();
    for (const auto& m : r.mismatches) {
      mm.push_back({{"row", m.row},
                    {"index", m.index},
                    {"line_a", m.line_a},
                    {"line_b", m.line_b},
                    {"field", m.field},
                    {"class", to_string(m.cls)},
                    {"a", m.a},
                    {"b", m.b},
                    {"rel_diff", m.rel_diff}});
    }
    p["mismatches"] = mm;
    json ag = json::array();
    for (const auto& c : r.aggregates) {
      ag.push_back({{"name", c.name},
                    {"unit", c.unit},
                    {"class", to_string(c.cls)},
                    {"stat", c.stat},
                    {"a", stats_json(c.a)},
                    {"b", stats_json(c.b)},
                    {"ratio", c.ratio},
                    {"compared", c.compared},
                    {"within", c.within}});
    }
    p["aggregates"] = ag;
    pairs.push_back(std::move(p));
  }
  j["pairs"] = pairs;
  return j;
}

DiffResult run_diff(const std::filesystem::path& a, const std::filesystem::path& b,
                    const DiffOptions& options) {
  DiffResult res;
  try {
    TelemetryMapping custom;
    const TelemetryMapping* mapping = &builtin_mapping();
    if (!options.mapping_path.empty()) {
      std::ifstream in(options.mapping_path, std::ios::binary);
      if (!in) {
        throw InputError(
            fmt::format("{}: cannot open mapping file", options.mapping_path.string()));
      }
      std::ostringstream buf;
      buf << in.rdbuf();
      custom = parse_mapping(buf.str(), options.mapping_path.string());
      mapping = &custom;
    }
    const TelemetryLog la = read_telemetry_file(a);
    const TelemetryLog lb = read_telemetry_file(b);
    for (const TelemetryLog* log : {&la, &lb}) {
      res.warnings.insert(res.warnings.end(), log->warnings.begin(), log->warnings.end());
    }
    const DiffReport rep = diff_logs(la, lb, *mapping, options);
    res.output = options.markdown ? render_diff_markdown(rep) : render_diff_table(rep);
    // nlohmann writes NaN as null: right for this strict-JSON report. Invalid UTF-8 that came
    // in through a log is replaced rather than thrown on.
    res.json = diff_report_json(rep).dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    if (!options.json_path.empty()) write_file_atomic(options.json_path, res.json);
    res.exit_code = rep.within ? kExitOk : kExitCheckFailed;
  } catch (const InputError& e) {
    res.exit_code = kExitBadInput;
    res.output.clear();
    res.error = e.what();
  }
  return res;
}

}  // namespace ctb
