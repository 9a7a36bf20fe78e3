#include "scenario/scenario.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string_view>
#include <system_error>

#include "core/error.hpp"
#include "data/npy.hpp"
#include "scenario/builtin_scenarios.hpp"
#include "scenario/document.hpp"

namespace ctb {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using scenario_detail::DocFormat;

// Tree rows and dataset indices are int32 downstream; anything larger is a typo, not a run.
constexpr uint64_t kMaxCount = std::numeric_limits<int32_t>::max();
// Upper bound on n*dim (and Q*dim) doubles: 16 GiB, checked before anything is allocated.
constexpr uint64_t kMaxElements = uint64_t{1} << 31;
constexpr uint64_t kMaxDim = 1 << 16;
constexpr uint64_t kMaxRepeat = 1000000;
constexpr uint64_t kMaxThreads = 4096;
constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxDescriptionLength = 1000;

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "a mapping";
    case json::value_t::array:
      return "a list";
    case json::value_t::string:
      // Replace invalid UTF-8 rather than throw: the message must still name file and field.
      return json(v.get<std::string>()).dump(-1, ' ', false, json::error_handler_t::replace);
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_unsigned:
      return fmt::format("{}", v.get<uint64_t>());
    case json::value_t::number_integer:
      return fmt::format("{}", v.get<int64_t>());
    case json::value_t::number_float:
      return fmt::format("{}", v.get<double>());
    default:
      return "an unsupported value";
  }
}

std::string join(std::initializer_list<std::string_view> items) {
  std::string out;
  for (const auto item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Validates the parsed tree field by field; every error names the source, the dotted field
// and the problem, e.g. "scenarios/foo.yaml: field 'residual.lengthscale': must be > 0 (got -1)".
class Validator {
 public:
  Validator(std::string source, fs::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  Scenario run(const json& root) {
    if (!root.is_object()) {
      throw InputError(fmt::format("{}: expected a mapping of scenario fields (got {})", source_,
                                   describe(root)));
    }
    check_keys(root, "",
               {"name", "description", "metric", "data", "queries", "k", "residual", "build",
                "query", "repeat", "warmup", "threads"});
    Scenario s;
    s.source = source_;
    s.name = name(require(root, "name"));
    if (root.contains("description")) s.description = description(root["description"]);
    s.metric = metric(require(root, "metric"));
    data(require(root, "data"), s);
    queries(require(root, "queries"), s);
    s.k = uint_in(require(root, "k"), "k", 1, kMaxCount);
    if (n_known(s) && s.k > s.data.n) {
      fail("k", fmt::format("must be <= data.n = {} (got {})", s.data.n, s.k));
    }
    if (root.contains("residual")) {
      if (s.metric != MetricKind::residual) {
        fail("residual", "only allowed with metric 'residual' (metric is 'euclidean')");
      }
      residual(root["residual"], s);
    }
    if (root.contains("build")) build(root["build"], s);
    if (root.contains("query")) query(root["query"], s);
    if (root.contains("repeat")) s.repeat = uint_in(root["repeat"], "repeat", 1, kMaxRepeat);
    if (root.contains("warmup")) s.warmup = uint_in(root["warmup"], "warmup", 0, kMaxRepeat);
    if (root.contains("threads")) s.threads = threads(root["threads"]);
    if (const EngineKnobProblem knob = engine_knob_problem(s); !knob.field.empty()) {
      fail(knob.field, knob.problem);
    }
    return s;
  }

 private:
  [[noreturn]] void fail(std::string_view field, std::string_view problem) const {
    throw InputError(fmt::format("{}: field '{}': {}", source_, field, problem));
  }

  static std::string child(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

  const json& require(const json& obj, std::string_view key, std::string_view prefix = "") const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(child(prefix, key), "required field is missing");
    return *it;
  }

  void check_keys(const json& obj, std::string_view prefix,
                  std::initializer_list<std::string_view> allowed) const {
    for (const auto& item : obj.items()) {
      if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
        fail(child(prefix, item.key()), fmt::format("unknown key (allowed: {})", join(allowed)));
      }
    }
  }

  void expect_object(const json& v, std::string_view field) const {
    if (!v.is_object()) fail(field, fmt::format("expected a mapping (got {})", describe(v)));
  }

  std::string string(const json& v, std::string_view field) const {
    if (!v.is_string()) fail(field, fmt::format("expected a string (got {})", describe(v)));
    return v.get<std::string>();
  }

  std::string choice(const json& v, std::string_view field,
                     std::initializer_list<std::string_view> allowed) const {
    std::string s = string(v, field);
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end()) {
      fail(field, fmt::format("must be one of {} (got {})", join(allowed), describe(v)));
    }
    return s;
  }

  uint64_t uint_in(const json& v, std::string_view field, uint64_t lo, uint64_t hi) const {
    uint64_t x = 0;
    if (v.is_number_unsigned()) {
      x = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
      const int64_t s = v.get<int64_t>();
      if (s < 0) fail(field, fmt::format("must be >= {} (got {})", lo, s));
      x = static_cast<uint64_t>(s);
    } else {
      fail(field, fmt::format("expected an integer (got {})", describe(v)));
    }
    if (x < lo) fail(field, fmt::format("must be >= {} (got {})", lo, x));
    if (x > hi) fail(field, fmt::format("must be <= {} (got {})", hi, x));
    return x;
  }

  double finite(const json& v, std::string_view field) const {
    if (!v.is_number()) fail(field, fmt::format("expected a number (got {})", describe(v)));
    const double x = v.get<double>();
    if (!std::isfinite(x)) fail(field, fmt::format("must be finite (got {})", describe(v)));
    return x;
  }

  double positive(const json& v, std::string_view field) const {
    const double x = finite(v, field);
    if (!(x > 0)) fail(field, fmt::format("must be > 0 (got {})", describe(v)));
    return x;
  }

  bool boolean(const json& v, std::string_view field) const {
    if (!v.is_boolean()) fail(field, fmt::format("expected true or false (got {})", describe(v)));
    return v.get<bool>();
  }

  // A relative path is relative to the scenario file, so a scenario directory can move whole.
  std::string npy_path(const json& v, std::string_view field) const {
    const std::string text = string(v, field);
    if (text.empty()) fail(field, "expected an NPY path (got an empty string)");
    fs::path path(text);
    if (path.is_relative() && !base_dir_.empty()) path = base_dir_ / path;
    path = path.lexically_normal();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) {
      fail(field, fmt::format("file not found: {}", path.string()));
    }
    return path.string();
  }

  static bool n_known(const Scenario& s) { return s.data.npy_path.empty(); }

  std::string name(const json& v) const {
    std::string s = string(v, "name");
    if (s.empty() || s.size() > kMaxNameLength || !std::all_of(s.begin(), s.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        })) {
      fail("name", fmt::format("must be 1-{} letters, digits, '-', '_' or '.' (got {})",
                               kMaxNameLength, describe(v)));
    }
    return s;
  }

  std::string description(const json& v) const {
    std::string s = string(v, "description");
    if (s.find('\n') != std::string::npos) fail("description", "must be a single line");
    if (s.size() > kMaxDescriptionLength) {
      fail("description",
           fmt::format("too long ({} characters, limit {})", s.size(), kMaxDescriptionLength));
    }
    return s;
  }

  MetricKind metric(const json& v) const {
    return choice(v, "metric", {"residual", "euclidean"}) == "residual" ? MetricKind::residual
                                                                        : MetricKind::euclidean;
  }

  void data(const json& v, Scenario& s) const {
    if (v.is_string()) {
      s.data.npy_path = npy_path(v, "data");
      return;
    }
    if (!v.is_object()) {
      fail("data", fmt::format("expected a mapping {{generator, seed, n, dim}} or an NPY path "
                               "(got {})",
                               describe(v)));
    }
    check_keys(v, "data", {"generator", "seed", "n", "dim", "path"});
    if (v.contains("path")) {
      for (const char* key : {"generator", "seed", "n", "dim"}) {
        if (v.contains(key)) fail(child("data", key), "cannot be combined with 'data.path'");
      }
      s.data.npy_path = npy_path(v["path"], "data.path");
      return;
    }
    if (v.contains("generator")) choice(v["generator"], "data.generator", {"normal"});
    s.data.seed =
        uint_in(require(v, "seed", "data"), "data.seed", 0, std::numeric_limits<uint64_t>::max());
    s.data.n = uint_in(require(v, "n", "data"), "data.n", 1, kMaxCount);
    s.data.dim = uint_in(require(v, "dim", "data"), "data.dim", 1, kMaxDim);
    if (s.data.n * s.data.dim > kMaxElements) {
      fail("data",
           fmt::format("n * dim must be <= {} (got {} * {})", kMaxElements, s.data.n, s.data.dim));
    }
  }

  void queries(const json& v, Scenario& s) const {
    if (v.is_string()) {
      if (v.get<std::string>() == "all") {
        s.queries.kind = QuerySpec::Kind::all;
      } else {
        s.queries.kind = QuerySpec::Kind::npy;
        s.queries.npy_path = npy_path(v, "queries");
      }
      return;
    }
    if (!v.is_object()) {
      fail("queries", fmt::format("expected a mapping {{count, seed}}, an NPY path or \"all\" "
                                  "(got {})",
                                  describe(v)));
    }
    check_keys(v, "queries", {"count", "seed", "path"});
    if (v.contains("path")) {
      for (const char* key : {"count", "seed"}) {
        if (v.contains(key)) fail(child("queries", key), "cannot be combined with 'queries.path'");
      }
      s.queries.kind = QuerySpec::Kind::npy;
      s.queries.npy_path = npy_path(v["path"], "queries.path");
      return;
    }
    s.queries.kind = QuerySpec::Kind::generated;
    s.queries.count = uint_in(require(v, "count", "queries"), "queries.count", 1, kMaxCount);
    s.queries.seed = uint_in(require(v, "seed", "queries"), "queries.seed", 0,
                             std::numeric_limits<uint64_t>::max());
    if (s.metric == MetricKind::euclidean && n_known(s) &&
        s.queries.count * s.data.dim > kMaxElements) {
      fail("queries.count", fmt::format("count * data.dim must be <= {} (got {} * {})",
                                        kMaxElements, s.queries.count, s.data.dim));
    }
  }

  void residual(const json& v, Scenario& s) const {
    expect_object(v, "residual");
    check_keys(v, "residual",
               {"kernel", "variance", "lengthscale", "inducing_count", "inducing_seed", "jitter"});
    ResidualSpec& r = s.residual;
    if (v.contains("kernel")) {
      r.kernel = choice(v["kernel"], "residual.kernel", {"rbf", "matern52"}) == "rbf"
                     ? KernelType::rbf
                     : KernelType::matern52;
    }
    if (v.contains("variance")) r.variance = positive(v["variance"], "residual.variance");
    if (v.contains("lengthscale")) {
      r.lengthscale = positive(v["lengthscale"], "residual.lengthscale");
    }
    if (v.contains("jitter")) {
      r.jitter = finite(v["jitter"], "residual.jitter");
      if (r.jitter < 0) {
        fail("residual.jitter", fmt::format("must be >= 0 (got {})", describe(v["jitter"])));
      }
    }
    if (v.contains("inducing_seed")) {
      const json& seed = v["inducing_seed"];
      if (seed.is_string()) {
        if (v.contains("inducing_count")) {
          fail("residual.inducing_count",
               "cannot be combined with an NPY 'residual.inducing_seed' (the file sets m)");
        }
        r.inducing_npy = npy_path(seed, "residual.inducing_seed");
        // Reporting and run hashes read inducing_count, so it must be the file's m.
        try {
          r.inducing_count = read_npy(r.inducing_npy).size();
        } catch (const InputError& e) {
          fail("residual.inducing_seed", e.what());
        }
      } else if (seed.is_number_integer()) {
        r.inducing_seed =
            uint_in(seed, "residual.inducing_seed", 0, std::numeric_limits<uint64_t>::max());
      } else {
        fail("residual.inducing_seed",
             fmt::format("expected an integer seed or an NPY path (got {})", describe(seed)));
      }
    }
    if (v.contains("inducing_count")) {
      r.inducing_count = uint_in(v["inducing_count"], "residual.inducing_count", 1, kMaxCount);
    }
    if (r.inducing_npy.empty() && n_known(s) && r.inducing_count > s.data.n) {
      fail("residual.inducing_count",
           fmt::format("must be <= data.n = {} (got {})", s.data.n, r.inducing_count));
    }
  }

  void build(const json& v, Scenario& s) const {
    expect_object(v, "build");
    check_keys(v, "build",
               {"strategy", "batch_size", "batch_order", "pivots", "pivot_list", "base"});
    if (v.contains("strategy")) {
      s.build.strategy = choice(v["strategy"], "build.strategy",
                                {"euclidean-hybrid", "pure-residual"}) == "euclidean-hybrid"
                             ? BuildStrategy::euclidean_hybrid
                             : BuildStrategy::pure_residual;
      if (s.build.strategy == BuildStrategy::pure_residual && s.metric != MetricKind::residual) {
        fail("build.strategy", "'pure-residual' needs metric 'residual'");
      }
    }
    if (v.contains("batch_size")) {
      s.build.batch_size = uint_in(v["batch_size"], "build.batch_size", 1, kMaxCount);
    }
    if (v.contains("batch_order")) {
      s.build.batch_order =
          choice(v["batch_order"], "build.batch_order", {"natural", "hilbert"}) == "natural"
              ? BatchOrder::natural
              : BatchOrder::hilbert;
    }
    if (v.contains("base")) {
      s.build.base = finite(v["base"], "build.base");
      if (!(s.build.base > 1.0)) {
        fail("build.base",
             fmt::format("the expansion base must be > 1 (got {}; 2 is the classic cover tree)",
                         describe(v["base"])));
      }
    }
    // `auto` (the default): the documented rule of each index (tree/hilbert_index.hpp).
    const auto is_auto = [](const nlohmann::json& x) { return x.is_string() && x == "auto"; };
    if (v.contains("pivots") && !is_auto(v["pivots"])) {
      s.build.pivots = uint_in(v["pivots"], "build.pivots", 0, kMaxCount);
    }
    if (v.contains("pivot_list") && !is_auto(v["pivot_list"])) {
      // The pivot index keeps whole rows: lists cut at a radius lose the Hilbert bound
      // (spec §13, hilbert_lists.py), so only `auto` is accepted.
      fail("build.pivot_list", "must be auto (the pivot index keeps every row of each pivot; got " +
                                   v["pivot_list"].dump() + ")");
    }
  }

  void query(const json& v, Scenario& s) const {
    expect_object(v, "query");
    check_keys(v, "query",
               {"engine", "predecessor", "survivor_cap", "low_yield_stop", "dense_fallback_evals",
                "seed_rows", "pivot_candidates", "bound_pivots", "child_order", "frontier_block"});
    if (v.contains("engine")) {
      const std::string name = string(v["engine"], "query.engine");
      const std::optional<Engine> engine = parse_engine(name);
      if (!engine) {
        fail("query.engine",
             fmt::format("must be one of {} (got {})", kEngineNames, describe(v["engine"])));
      }
      if (const std::string problem = engine_metric_problem(*engine, s.metric); !problem.empty())
        fail("query.engine", problem);
      s.query.engine = *engine;
    }
    if (v.contains("predecessor")) {
      s.query.predecessor = boolean(v["predecessor"], "query.predecessor");
      // Predecessor filtering compares dataset indices, which fresh query points lack.
      if (s.query.predecessor && s.metric == MetricKind::euclidean &&
          s.queries.kind == QuerySpec::Kind::generated) {
        fail("query.predecessor",
             "needs queries that are dataset points (fresh Euclidean query points have no index)");
      }
    }
    if (v.contains("survivor_cap")) {
      s.query.survivor_cap = uint_in(v["survivor_cap"], "query.survivor_cap", 0, kMaxCount);
    }
    if (v.contains("low_yield_stop")) {
      s.query.low_yield_stop = uint_in(v["low_yield_stop"], "query.low_yield_stop", 0, kMaxCount);
    }
    if (v.contains("dense_fallback_evals")) {
      s.query.dense_fallback_evals =
          uint_in(v["dense_fallback_evals"], "query.dense_fallback_evals", 0, kMaxCount);
    }
    if (v.contains("seed_rows")) {
      s.query.seed_rows = uint_in(v["seed_rows"], "query.seed_rows", 0, kMaxCount);
    }
    if (v.contains("pivot_candidates")) {
      s.query.pivot_candidates =
          uint_in(v["pivot_candidates"], "query.pivot_candidates", 1, kMaxCount);
    }
    if (v.contains("bound_pivots")) {
      s.query.bound_pivots = uint_in(v["bound_pivots"], "query.bound_pivots", 1, 255);
    }
    if (v.contains("child_order")) {
      s.query.child_order =
          choice(v["child_order"], "query.child_order", {"natural", "bound"}) == "bound"
              ? ChildOrder::bound
              : ChildOrder::natural;
    }
    if (v.contains("frontier_block")) {
      s.query.frontier_block = uint_in(v["frontier_block"], "query.frontier_block", 1, 1 << 16);
    }
  }

  int threads(const json& v) const {
    if (v.is_string()) {
      if (v.get<std::string>() != "all") {
        fail("threads", fmt::format("expected a count or \"all\" (got {})", describe(v)));
      }
      return 0;
    }
    return static_cast<int>(uint_in(v, "threads", 0, kMaxThreads));
  }

  std::string source_;
  fs::path base_dir_;
};

Scenario parse_with_format(const std::string& text, DocFormat format, const std::string& source,
                           const fs::path& base_dir) {
  const json doc = scenario_detail::parse_document(text, format, source);
  return Validator(source, base_dir).run(doc);
}

const scenario_detail::BuiltinScenarioFile* find_builtin(std::string_view name) {
  for (const auto& file : scenario_detail::builtin_scenario_files()) {
    if (name == file.name) return &file;
  }
  return nullptr;
}

std::string read_scenario_file(const fs::path& path, const std::string& shown) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw InputError(fmt::format("{}: file not found", shown));
  if (!fs::is_regular_file(status)) throw InputError(fmt::format("{}: not a regular file", shown));
  const auto size = fs::file_size(path, ec);
  if (ec) throw InputError(fmt::format("{}: cannot read: {}", shown, ec.message()));
  if (size > scenario_detail::kMaxDocumentBytes) {
    throw InputError(fmt::format("{}: scenario file too large ({} bytes, limit {})", shown, size,
                                 scenario_detail::kMaxDocumentBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open", shown));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: read error", shown));
  return buffer.str();
}

bool looks_like_path(const std::string& s) {
  const std::string_view v(s);
  return v.find('/') != v.npos || v.ends_with(".yaml") || v.ends_with(".yml") ||
         v.ends_with(".json") || v.starts_with(".");
}

}  // namespace

Scenario parse_scenario(const std::string& text, const std::string& source,
                        const std::filesystem::path& base_dir) {
  return parse_with_format(text, scenario_detail::format_for(source), source, base_dir);
}

ScenarioDocument load_scenario_document(const std::string& name_or_path) {
  if (!looks_like_path(name_or_path)) {
    if (const auto* file = find_builtin(name_or_path)) {
      const std::string source = "built-in:" + name_or_path;
      return {scenario_detail::parse_document(std::string(file->text), DocFormat::yaml, source),
              source,
              {}};
    }
    std::error_code ec;
    if (!fs::exists(name_or_path, ec)) {
      std::string names;
      for (const auto& [name, description] : list_builtin_scenarios()) {
        names += names.empty() ? name : ", " + name;
      }
      throw InputError(fmt::format("{}: not a built-in scenario and no such file (built-ins: {})",
                                   name_or_path, names));
    }
  }
  const fs::path path(name_or_path);
  const std::string text = read_scenario_file(path, name_or_path);
  return {scenario_detail::parse_document(text, scenario_detail::format_for(name_or_path),
                                          name_or_path),
          name_or_path, path.parent_path()};
}

Scenario validate_scenario_document(const ScenarioDocument& document) {
  return Validator(document.source, document.base_dir).run(document.doc);
}

Engine resolve_engine(Engine engine, MetricKind metric) {
  if (engine != Engine::automatic) return engine;
  return metric == MetricKind::residual ? Engine::pivot : Engine::box;
}

std::string engine_metric_problem(Engine engine, MetricKind metric) {
  if (engine == Engine::pivot && metric != MetricKind::residual)
    return "'pivot' needs metric 'residual' (pivot lists are built in the residual metric; "
           "Euclidean data: 'box')";
  if (engine == Engine::box && metric != MetricKind::euclidean)
    return "'box' needs metric 'euclidean' (residual data: 'pivot')";
  return {};
}

EngineKnobProblem engine_knob_problem(const Scenario& s) {
  const Engine engine = resolve_engine(s.query.engine, s.metric);
  const QueryOptionsSpec defaults;
  const auto unread = [&](const char* field, const char* readers) {
    return EngineKnobProblem{
        field, fmt::format("the {} engine does not read it (only {}); set query.engine to one "
                           "that does, or leave the field at its default",
                           to_string(engine), readers)};
  };
  // APPROXIMATE budgets: the best-first searches of the cover tree and the box index honour
  // them; the pivot index and the brute force would silently answer exactly.
  const bool budgets = engine == Engine::cover_tree || engine == Engine::box;
  if (s.query.survivor_cap != defaults.survivor_cap && !budgets)
    return unread("query.survivor_cap", "cover-tree and box");
  if (s.query.low_yield_stop != defaults.low_yield_stop && !budgets)
    return unread("query.low_yield_stop", "cover-tree and box");
  if (engine == Engine::cover_tree) return {};
  if (s.query.child_order != defaults.child_order) return unread("query.child_order", "cover-tree");
  if (s.query.frontier_block != defaults.frontier_block)
    return unread("query.frontier_block", "cover-tree");
  if (s.build.base != BuildSpec{}.base) return unread("build.base", "cover-tree");
  return {};
}

Scenario load_scenario(const std::string& name_or_path) {
  return validate_scenario_document(load_scenario_document(name_or_path));
}

std::vector<std::pair<std::string, std::string>> list_builtin_scenarios() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& file : scenario_detail::builtin_scenario_files()) {
    const Scenario s =
        parse_with_format(file.text, DocFormat::yaml, fmt::format("built-in:{}", file.name), {});
    out.emplace_back(file.name, s.description);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> builtin_scenario_text(const std::string& name) {
  if (const auto* file = find_builtin(name)) return std::string(file->text);
  return std::nullopt;
}

ResidualParams residual_params(const ResidualSpec& spec) {
  ResidualParams params;
  params.kernel.type = spec.kernel;
  params.kernel.variance = spec.variance;
  params.kernel.lengthscale = spec.lengthscale;
  params.jitter = spec.jitter;
  return params;
}

}  // namespace ctb
