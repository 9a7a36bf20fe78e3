#include "report/report_html.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "report/report_assets.hpp"

namespace ctb {

using nlohmann::json;

namespace {

std::string cell_number(const json& v, const char* format) {
  if (!v.is_number()) return "-";
  return fmt::format(fmt::runtime(format), v.get<double>());
}

std::string td(const std::string& text, bool left = false) {
  return fmt::format("<td{}>{}</td>", left ? " class=\"t\"" : "", text);
}

std::string th(std::string_view text, bool left = false) {
  return fmt::format("<th{}>{}</th>", left ? " class=\"t\"" : "", html_escape(text));
}

std::string str_of(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.is_null() ? std::string("-") : v.dump();
}

std::string set_text(const json& set) {
  std::string s;
  for (const auto& item : set.items()) {
    s += fmt::format("{}{}={}", s.empty() ? "" : " ", item.key(), str_of(item.value()));
  }
  return s;
}

std::string run_label(const json& run) {
  std::string s = fmt::format("#{} {} ({})", run["index"].get<size_t>(), str_of(run["scenario"]),
                              str_of(run["engine"]));
  if (run.contains("sweep_set")) s += " " + set_text(run["sweep_set"]);
  return s;
}

std::string headline_table(const json& runs) {
  std::string out = "<table id=\"headline\"><tr>";
  for (const char* h : {"run", "scenario", "engine"}) out += th(h, true);
  for (const char* h : {"q/s best", "q/s median", "x brute", "recall", "build s", "backend s"}) {
    out += th(h);
  }
  for (const char* h : {"machine", "run_hash", "log"}) out += th(h, true);
  out += "</tr>\n";
  for (const json& r : runs) {
    std::string machine;
    for (const auto& item : r["machine"].items()) {
      machine +=
          fmt::format("{}{}: {}", machine.empty() ? "" : "; ", item.key(), str_of(item.value()));
    }
    const std::string hash = r["run_hash"].get<std::string>();
    const json build_s =
        r["build_ms"].is_number() ? json(r["build_ms"].get<double>() / 1e3) : json();
    const json backend_s = r.contains("backend_ms") && r["backend_ms"].is_number()
                               ? json(r["backend_ms"].get<double>() / 1e3)
                               : json();
    out +=
        "<tr class=\"run\">" + td(html_escape(fmt::format("#{}", r["index"].get<size_t>())), true) +
        td(html_escape(str_of(r["scenario"])) +
               (r.contains("sweep_set")
                    ? " <span class=\"note\">" + html_escape(set_text(r["sweep_set"])) + "</span>"
                    : std::string()),
           true) +
        td(html_escape(str_of(r["engine"])), true) + td(cell_number(r["qps_best"], "{:.0f}")) +
        td(cell_number(r.value("qps_median", json()), "{:.0f}")) +
        td(cell_number(r["speedup_vs_brute"], "{:.2f}")) + td(cell_number(r["recall"], "{:.4f}")) +
        td(cell_number(build_s, "{:.3f}")) + td(cell_number(backend_s, "{:.3f}")) +
        td(html_escape(machine), true) +
        td(fmt::format("<code title=\"{}\">{}</code>", html_escape(hash),
                       html_escape(hash.substr(0, 12))),
           true) +
        td(html_escape(str_of(r["log"])), true) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string passes_table(const json& runs) {
  std::string out = "<table id=\"pass-spread\"><tr>" + th("run", true);
  for (const char* h : {"timed passes", "best ms", "median ms", "worst ms", "spread"}) out += th(h);
  out += "</tr>\n";
  for (const json& r : runs) {
    std::vector<double> ms;
    for (const json& p : r["passes"]) {
      if (!p["warmup"].get<bool>() && p["ms"].is_number()) ms.push_back(p["ms"].get<double>());
    }
    if (ms.empty()) continue;
    std::sort(ms.begin(), ms.end());
    const double median =
        ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    out += "<tr>" + td(html_escape(run_label(r)), true) + td(fmt::format("{}", ms.size())) +
           td(fmt::format("{:.3f}", ms.front())) + td(fmt::format("{:.3f}", median)) +
           td(fmt::format("{:.3f}", ms.back())) +
           td(fmt::format("{:.1f}%", 100.0 * (ms.back() - ms.front()) / ms.front())) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string evals_table(const json& runs) {
  std::string out = "<table id=\"evals-tail\"><tr>" + th("run", true);
  for (const char* h : {"queries", "mean", "p50", "p90", "p99", "max", "max / p50", "max % of N"}) {
    out += th(h);
  }
  out += "</tr>\n";
  for (const json& r : runs) {
    if (!r.contains("evals_per_query")) continue;
    const json& e = r["evals_per_query"];
    const double p50 = e["p50"], mx = e["max"];
    out += "<tr>" + td(html_escape(run_label(r)), true) + td(str_of(e["n"])) +
           td(cell_number(e["mean"], "{:.0f}")) + td(cell_number(e["p50"], "{:.0f}")) +
           td(cell_number(e["p90"], "{:.0f}")) + td(cell_number(e["p99"], "{:.0f}")) +
           td(cell_number(e["max"], "{:.0f}")) +
           td(p50 > 0 ? fmt::format("{:.1f}", mx / p50) : "-") +
           td(e["n_points"].is_number()
                  ? fmt::format("{:.1f}%", 100.0 * mx / e["n_points"].get<double>())
                  : "-") +
           "</tr>\n";
  }
  return out + "</table>\n";
}

std::string build_table(const json& runs) {
  std::string out = "<table id=\"build-profiles\"><tr>" + th("run", true);
  for (const char* h : {"rows", "total ms", "candidates", "selected", "dominated"}) out += th(h);
  out += "</tr>\n";
  for (const json& r : runs) {
    if (r["build_rows"].empty()) continue;
    double ms = 0, cand = 0, sel = 0, dom = 0;
    for (const json& b : r["build_rows"]) {
      ms += b["ms"].is_number() ? b["ms"].get<double>() : 0;
      cand += b["candidates"].is_number() ? b["candidates"].get<double>() : 0;
      sel += b["selected"].is_number() ? b["selected"].get<double>() : 0;
      dom += b["dominated"].is_number() ? b["dominated"].get<double>() : 0;
    }
    out +=
        "<tr>" +
        td(html_escape(run_label(r) +
                       (r["source"] == "covertree_bench" ? " - levels" : " - insertion batches")),
           true) +
        td(fmt::format("{}", r["build_rows"].size())) + td(fmt::format("{:.1f}", ms)) +
        td(fmt::format("{:.0f}", cand)) + td(fmt::format("{:.0f}", sel)) +
        td(fmt::format("{:.0f}", dom)) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string tree_quality_table(const json& runs) {
  std::string out = "<table id=\"tree-quality\"><tr>" + th("run", true);
  for (const char* h : {"base", "nodes", "depth", "branching mean", "branching max", "waste"})
    out += th(h);
  out += "</tr>\n";
  const auto fixed = [](const json& v, int digits) {
    return v.is_number() ? fmt::format("{:.{}f}", v.get<double>(), digits) : std::string("-");
  };
  for (const json& r : runs) {
    if (!r.contains("tree_quality")) continue;
    const json& q = r["tree_quality"];
    out += "<tr>" + td(html_escape(run_label(r)), true) + td(fixed(q["base"], 2)) +
           td(str_of(q["nodes"])) + td(str_of(q["tree_depth"])) +
           td(fixed(q["branching_mean"], 2)) + td(str_of(q["branching_max"])) +
           td(fixed(q["waste"], 3)) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string sweep_section(const json& sweep, size_t index) {
  std::string out = fmt::format("<h3>Sweep {} of {} ({} points)</h3>\n",
                                html_escape(sweep["sweep_id"].get<std::string>()),
                                html_escape(str_of(sweep["scenario"])), sweep["points"].size());
  out += fmt::format(
      "<div class=\"chart\"><canvas data-chart=\"pareto\" data-sweep=\"{}\"></canvas></div>\n",
      index);
  out += fmt::format("<table class=\"sweep\" data-sweep=\"{}\"><tr>", index);
  for (const json& f : sweep["fields"]) out += th(f.get<std::string>(), true);
  for (const char* h : {"q/s best", "recall", "front"}) out += th(h);
  out += "</tr>\n";
  for (const json& p : sweep["points"]) {
    out += p["pareto"].get<bool>() ? "<tr class=\"front\">" : "<tr>";
    for (const json& f : sweep["fields"]) {
      out += td(html_escape(str_of(p["set"].value(f.get<std::string>(), json()))), true);
    }
    out += td(cell_number(p["qps_best"], "{:.0f}")) + td(cell_number(p["recall"], "{:.6f}")) +
           td(p["pareto"].get<bool>() ? "*" : "") + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string gate_section(const json& gate) {
  std::string out = fmt::format("<p>Verdict: <b class=\"{}\">{}</b></p>\n",
                                gate.value("verdict", "") == "pass" ? "pass" : "fail",
                                html_escape(str_of(gate.value("verdict", json()))));
  out += "<table id=\"gate\"><tr>" + th("check", true);
  for (const char* h : {"baseline", "current", "ratio", "allowed", "verdict"}) out += th(h);
  out += th("note", true) + "</tr>\n";
  for (const json& c : gate.value("checks", json::array())) {
    const std::string verdict = str_of(c.value("verdict", json()));
    out +=
        "<tr>" + td(html_escape(str_of(c.value("name", json()))), true) +
        td(html_escape(str_of(c.value("baseline", json())))) +
        td(html_escape(str_of(c.value("current", json())))) +
        td(cell_number(c.value("ratio", json()), "{:.3f}")) +
        td(cell_number(c.value("allowed_worsening", json()), "{:.2f}")) +
        td(fmt::format("<span class=\"{}\">{}</span>", verdict == "pass" ? "pass" : "fail",
                       html_escape(verdict + (c.value("advisory", false) ? " (advisory)" : "")))) +
        td(html_escape(str_of(c.value("note", json()))), true) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string body(const json& data) {
  const json& runs = data["runs"];
  std::string logs;
  for (const json& l : data["logs"])
    logs += fmt::format("<li><code>{}</code></li>", html_escape(str_of(l)));
  std::string out = "<h1>covertree-bench report</h1>\n<ul class=\"logs\">" + logs + "</ul>\n";
  out += "<h2>Runs</h2>\n" + headline_table(runs);

  bool any_passes = false, any_evals = false, any_build = false, any_tree = false;
  for (const json& r : runs) {
    any_tree = any_tree || r.contains("tree_quality");
    any_passes = any_passes || !r["passes"].empty();
    any_evals = any_evals || r.contains("evals_per_query");
    any_build = any_build || !r["build_rows"].empty();
  }
  out += "<h2>Query time per pass</h2>\n";
  out += any_passes ? "<div class=\"chart\"><canvas data-chart=\"pass-times\"></canvas></div>\n" +
                          passes_table(runs)
                    : "<p class=\"note\">No query-pass rows in these logs.</p>\n";
  out += "<h2>Distance evaluations per query</h2>\n";
  out += any_evals
             ? "<p class=\"note\">The tail is the residual metric's story: the few queries whose "
               "k-th distance no bound can close cost many times the median.</p>\n"
               "<div class=\"chart\"><canvas data-chart=\"evals-per-query\"></canvas></div>\n" +
                   evals_table(runs)
             : "<p class=\"note\">No per-query rows: run with <code>run --telemetry LOG "
               "--telemetry-queries</code>.</p>\n";
  out += "<h2>Build by phase</h2>\n";
  out +=
      any_build
          ? "<p class=\"note\">Ours: the whole build of the index that answered, one bar segment "
            "per phase (the build_batch rows' build_phase: the cover tree's levels as "
            "<code>nets_level</code>, then the index's own phases). Below, the points inserted per "
            "cover-tree level. The covertreex reference: one row per insertion batch (traversal "
            "+ conflict graph + MIS).</p>\n"
            "<div class=\"chart\"><canvas data-chart=\"build-levels\"></canvas></div>\n"
            "<div class=\"chart\"><canvas data-chart=\"build-counts\"></canvas></div>\n" +
                build_table(runs)
          : "<p class=\"note\">No build rows in these logs.</p>\n";
  if (any_tree) {
    out +=
        "<h2>Tree quality</h2>\n"
        "<p class=\"note\">The cover tree per level, top first: children per internal node "
        "and waste (the sibling cover balls that also hold a sampled point; "
        "docs/telemetry.md).</p>\n"
        "<div class=\"chart\"><canvas data-chart=\"tree-quality\"></canvas></div>\n" +
        tree_quality_table(runs);
  }
  if (!data["sweeps"].empty()) {
    out += "<h2>Sweeps: recall against q/s</h2>\n";
    for (size_t i = 0; i < data["sweeps"].size(); ++i) out += sweep_section(data["sweeps"][i], i);
  }
  if (data["gate"].is_object()) out += "<h2>Gate</h2>\n" + gate_section(data["gate"]);
  return out;
}

// JSON inside <script>: "</script" or "<!--" in a string would end or hide the element, so
// every '<' is written as its JSON escape.
std::string script_safe_json(const json& data) {
  const std::string text = data.dump(-1, ' ', true, json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '<') {  // only ever inside a JSON string, where \u003c means the same
      out += "\\u003c";
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_report_html(const json& data) {
  // The template is split at its markers and the pieces concatenated, so no inserted content
  // (Chart.js, data) is ever scanned for markers itself.
  const std::string tpl = report_detail::kTemplateHtml;
  std::string title = "covertree-bench report";
  std::vector<std::string> scenarios;
  for (const json& r : data["runs"]) {
    const std::string s = str_of(r["scenario"]);
    if (std::find(scenarios.begin(), scenarios.end(), s) == scenarios.end()) scenarios.push_back(s);
  }
  for (size_t i = 0; i < scenarios.size() && i < 3; ++i) title += (i ? ", " : ": ") + scenarios[i];
  const std::pair<const char*, std::string> parts[] = {
      {"<!--@TITLE@-->", html_escape(title)},
      {"<!--@BODY@-->", body(data)},
      {"<!--@DATA@-->", script_safe_json(data)},
      {"<!--@CHARTJS@-->", report_detail::kChartJs},
      {"<!--@REPORTJS@-->", report_detail::kReportJs}};
  std::string out;
  size_t pos = 0;
  for (const auto& [marker, content] : parts) {
    const size_t at = tpl.find(marker, pos);
    if (at == std::string::npos)
      throw std::logic_error(std::string("report template lacks ") + marker);
    out.append(tpl, pos, at - pos);
    out += content;
    pos = at + std::string_view(marker).size();
  }
  out.append(tpl, pos, std::string::npos);
  return out;
}

}  // namespace ctb
