// Draws the report's charts from the inline data (see report_data.hpp), with Chart.js.
// Every canvas with a data-chart attribute gets data-drawn="1" once Chart.js has rendered it.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                 '#7f7f7f', '#bcbd22', '#17becf'];
  function color(i) { return palette[i % palette.length]; }

  // Drawn synchronously (no animation), so "rendered" means the final picture.
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  Chart.register({
    id: 'ctbDrawn',
    afterRender: function (chart) { chart.canvas.setAttribute('data-drawn', '1'); }
  });

  function label(run) {
    var s = '#' + run.index + ' ' + run.scenario + ' (' + run.engine + ')';
    if (run.sweep_set) {
      var parts = [];
      for (var k in run.sweep_set) parts.push(k + '=' + JSON.stringify(run.sweep_set[k]));
      s += ' ' + parts.join(' ');
    }
    return s;
  }
  function each(name, fn) {
    var list = document.querySelectorAll('canvas[data-chart="' + name + '"]');
    for (var i = 0; i < list.length; ++i) fn(list[i]);
  }
  function axis(title, type, extra) {
    var a = { type: type || 'linear', title: { display: true, text: title } };
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }

  // Query time per pass, one line per run; warm-up passes drawn as crosses.
  each('pass-times', function (canvas) {
    var sets = [];
    data.runs.forEach(function (run) {
      if (!run.passes.length) return;
      sets.push({
        label: label(run), borderColor: color(run.index), backgroundColor: color(run.index),
        showLine: true,
        data: run.passes.map(function (p) { return { x: p.index, y: p.ms }; }),
        pointStyle: run.passes.map(function (p) { return p.warmup ? 'crossRot' : 'circle'; }),
        pointRadius: run.passes.map(function (p) { return p.warmup ? 6 : 3; })
      });
    });
    new Chart(canvas, {
      type: 'scatter', data: { datasets: sets },
      options: { scales: { x: axis('pass (crosses: warm-up)', 'linear', { ticks: { precision: 0 } }),
                           y: axis('query time per pass, ms') } }
    });
  });

  // Distance evaluations per query: log2 bins, counts on a log axis so the tail shows.
  each('evals-per-query', function (canvas) {
    var runs = data.runs.filter(function (r) { return r.evals_per_query; });
    // From the lowest bin any run uses to the highest.
    var nbins = 0, first = Infinity;
    runs.forEach(function (r) {
      var bins = r.evals_per_query.bins;
      nbins = Math.max(nbins, bins.length);
      for (var i = 0; i < bins.length; ++i) if (bins[i].count > 0) { first = Math.min(first, i); break; }
    });
    if (!isFinite(first)) first = 0;
    var labels = [];
    for (var i = first; i < nbins; ++i) labels.push('[2^' + i + ', 2^' + (i + 1) + ')');
    var sets = runs.map(function (r) {
      var counts = [];
      for (var i = first; i < nbins; ++i) {
        var b = r.evals_per_query.bins[i];
        counts.push(b && b.count > 0 ? b.count : null);
      }
      return { label: label(r), data: counts, backgroundColor: color(r.index) };
    });
    new Chart(canvas, {
      type: 'bar', data: { labels: labels, datasets: sets },
      options: { scales: { x: axis('distance evaluations of one query', 'category'),
                           y: axis('queries (log scale)', 'logarithmic') } }
    });
  });

  // Sweep points that share one build carry the same rows: each build is drawn once.
  function builds() {
    var seen = {};
    return data.runs.filter(function (run) {
      if (!run.build_rows.length) return false;
      var key = (run.sweep_id || run.run_id) + '/' + run.build_ms;
      if (seen[key]) return false;
      seen[key] = true;
      return true;
    });
  }
  function phaseOf(row, run) {
    if (row.phase) return row.phase;
    return run.source === 'covertree_bench' ? 'nets_level' : 'insertion batch';
  }

  // The whole build of the index that answered, stacked by phase (build_phase of its rows).
  each('build-levels', function (canvas) {
    var runs = builds();
    var phases = [];
    runs.forEach(function (run) {
      run.build_rows.forEach(function (b) {
        var p = phaseOf(b, run);
        if (phases.indexOf(p) < 0) phases.push(p);
      });
    });
    var sets = phases.map(function (p, i) {
      return {
        label: p, backgroundColor: color(i),
        data: runs.map(function (run) {
          var ms = 0;
          run.build_rows.forEach(function (b) { if (phaseOf(b, run) === p && b.ms > 0) ms += b.ms; });
          return ms > 0 ? ms : null;
        })
      };
    });
    new Chart(canvas, {
      type: 'bar', data: { labels: runs.map(label), datasets: sets },
      options: { scales: { x: axis('build (the index that answered)', 'category', { stacked: true }),
                           y: axis('build ms, by phase', 'linear', { stacked: true }) } }
    });
  });

  // Points inserted per cover-tree level (ours) or insertion batch (reference).
  each('build-counts', function (canvas) {
    var sets = builds().map(function (run) {
      var rows = run.build_rows.filter(function (b) { return b.selected > 0; });
      return {
        label: label(run) + (run.source === 'covertree_bench' ? ' - per level' : ' - per batch'),
        borderColor: color(run.index), backgroundColor: color(run.index), showLine: true,
        data: rows.map(function (b, i) { return { x: i, y: b.selected }; })
      };
    });
    new Chart(canvas, {
      type: 'scatter', data: { datasets: sets },
      options: { scales: { x: axis('build level (ours) / insertion batch (reference)', 'linear',
                                   { ticks: { precision: 0 } }),
                           y: axis('points inserted per level / batch (log scale)', 'logarithmic') } }
    });
  });

  // The cover tree per level, top first: branching (solid) and waste (dashed) of each build.
  each('tree-quality', function (canvas) {
    var sets = [];
    var seen = {};
    data.runs.forEach(function (run) {
      var q = run.tree_quality;
      if (!q) return;
      var key = (run.sweep_id || run.run_id) + '/' + run.build_ms;
      if (seen[key]) return;
      seen[key] = true;
      var levels = q.levels.filter(function (l) { return l.branching_mean > 0; });
      var name = label(run) + ' base ' + q.base;
      sets.push({
        label: name + ' - branching', borderColor: color(run.index),
        backgroundColor: color(run.index), showLine: true,
        data: levels.map(function (l, i) { return { x: i, y: l.branching_mean }; })
      });
      sets.push({
        label: name + ' - waste', borderColor: color(run.index), backgroundColor: color(run.index),
        borderDash: [6, 4], showLine: true, pointStyle: 'triangle',
        data: levels.map(function (l, i) { return { x: i, y: l.waste }; })
      });
    });
    new Chart(canvas, {
      type: 'scatter', data: { datasets: sets },
      options: { scales: { x: axis('level below the root (levels with children)', 'linear',
                                   { ticks: { precision: 0 } }),
                           y: axis('children per internal node / sibling balls holding a point') } }
    });
  });

  // Recall against q/s per sweep: every configuration, the front, and the exact marks.
  each('pareto', function (canvas) {
    var sweep = data.sweeps[Number(canvas.getAttribute('data-sweep'))];
    var pts = sweep.points.filter(function (p) { return p.recall !== null && p.qps_best !== null; });
    function describe(p) {
      var parts = [];
      for (var k in p.set) parts.push(k + '=' + JSON.stringify(p.set[k]));
      return parts.join(' ');
    }
    var xs = pts.map(function (p) { return p.qps_best; });
    var sets = [{
      label: 'configurations', backgroundColor: '#1f77b4', pointRadius: 4,
      data: pts.map(function (p) { return { x: p.qps_best, y: p.recall, name: describe(p) }; })
    }, {
      label: 'Pareto front', borderColor: '#d62728', backgroundColor: '#d62728', showLine: true,
      pointRadius: 6, pointStyle: 'rectRot',
      data: pts.filter(function (p) { return p.pareto; })
               .sort(function (a, b) { return a.qps_best - b.qps_best; })
               .map(function (p) { return { x: p.qps_best, y: p.recall, name: describe(p) }; })
    }];
    if (sweep.brute_qps) {
      xs.push(sweep.brute_qps);
      sets.push({ label: 'brute force (exact)', backgroundColor: '#000', borderColor: '#000',
                  pointStyle: 'triangle',
                  pointRadius: 9, data: [{ x: sweep.brute_qps, y: 1, name: 'brute force' }] });
    }
    var exact = data.runs.filter(function (r) {
      return !r.sweep_id && r.scenario === sweep.scenario && r.recall === 1 && r.qps_best;
    });
    if (exact.length) {
      exact.forEach(function (r) { xs.push(r.qps_best); });
      sets.push({ label: 'exact runs (run --compare-brute)', backgroundColor: '#2ca02c',
                  borderColor: '#2ca02c', borderWidth: 3, pointStyle: 'star', pointRadius: 10,
                  data: exact.map(function (r) { return { x: r.qps_best, y: 1, name: label(r) }; }) });
    }
    if (sweep.reference_float32_recall !== null && xs.length) {
      var lo = Math.min.apply(null, xs) / 1.5, hi = Math.max.apply(null, xs) * 1.5;
      sets.push({ label: 'reference float32 answer (recall ' + sweep.reference_float32_recall + ')',
                  borderColor: '#ff7f0e', borderDash: [6, 4], showLine: true, pointRadius: 0,
                  data: [{ x: lo, y: sweep.reference_float32_recall },
                         { x: hi, y: sweep.reference_float32_recall }] });
    }
    new Chart(canvas, {
      type: 'scatter', data: { datasets: sets },
      options: {
        scales: { x: axis('queries per second (best pass, log scale)', 'logarithmic'),
                  y: axis('recall@k vs the exact answer', 'linear', { max: 1.02 }) },
        plugins: { tooltip: { callbacks: { label: function (ctx) {
          var p = ctx.raw;
          return (p.name ? p.name + ': ' : '') + Math.round(p.x) + ' q/s, recall ' + p.y.toFixed(4);
        } } } }
      }
    });
  });

  document.documentElement.setAttribute('data-report-done', '1');
})();
