(function () {
  "use strict";
  var report = window.ORPS_REPORT || {};
  var nodes = {};
  (report.nodes || []).forEach(function (n) { nodes[String(n.id)] = n; });
  var panel = document.getElementById("panel");

  function time(s) {
    if (s === null || s === undefined) return "-";
    if (s < 1e-6) return "<1 us";
    if (s < 1e-3) return (s * 1e6).toFixed(0) + " us";
    if (s < 1) return (s * 1e3).toFixed(2) + " ms";
    return s.toFixed(2) + " s";
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function table(rows) {
    var t = el("table");
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      var tr = el("tr"); tr.appendChild(el("td", r[0])); tr.appendChild(el("td", String(r[1]))); t.appendChild(tr);
    });
    return t;
  }
  function execution(x) {
    if (!x) return [el("p", "Not run (a duplicate, or the search stopped first).")];
    var st = x.static || {};
    var out = [table([
      ["tests passed", x.passed + "/" + x.total],
      ["time in tests (wall)", time(x.wall_time)], ["time in tests (CPU)", time(x.cpu_time)],
      ["instructions", x.instructions ? x.instructions.toLocaleString() + " (" + x.instruction_counter + ")" : null],
      ["peak memory", x.peak_rss_kb ? (x.peak_rss_kb / 1024).toFixed(1) + " MiB" : null],
      ["line coverage", x.coverage === null || x.coverage === undefined ? null : Math.round(x.coverage * 100) + "%"],
      ["complexity / NLOC", st.cyclomatic_complexity + " / " + st.nloc],
      ["timed out", x.timed_out ? "yes" : null], ["error", x.error],
      ["captured calls", x.capture ? x.capture.usable + " kept of " + x.capture.captured : null],
      ["replayed calls", x.behaviour && x.behaviour.compared ?
        x.behaviour.identical + "/" + x.behaviour.compared + " identical to the original" : null],
      ["generated inputs", x.capture && x.capture.generated ? x.capture.generated + " judge" :
        x.behaviour && x.behaviour.generated_compared ?
        x.behaviour.generated_identical + "/" + x.behaviour.generated_compared + " identical to the original" : null],
      ["CrossHair", x.behaviour && x.behaviour.cross_check ? (x.behaviour.cross_check.seconds === null ?
        "not run: " + x.behaviour.cross_check.note : x.behaviour.cross_check.different ?
        x.behaviour.cross_check.different + " difference(s) in " + x.behaviour.cross_check.seconds + " s" :
        "no difference in " + x.behaviour.cross_check.seconds + " s") : null]
    ])];
    if (x.behaviour && x.behaviour.differences && x.behaviour.differences.length) {
      out.push(el("pre", "Behaves differently from the original:\n" + x.behaviour.differences.join("\n"), "text"));
    }
    var failing = (x.tests || []).filter(function (t) { return t.outcome !== "passed"; });
    if (failing.length) {
      out.push(el("pre", failing.map(function (t) {
        return t.outcome.toUpperCase() + " " + t.nodeid + (t.message ? "\n  " + t.message.trim().split("\n").slice(0, 3).join("\n  ") : "");
      }).join("\n"), "text"));
    }
    if (x.output_tail) {  // mostly pytest's own noise: folded unless the run went wrong
      var details = el("details"); details.open = !!(x.error || x.timed_out);
      details.appendChild(el("summary", "output")); details.appendChild(el("pre", x.output_tail, "text"));
      out.push(details);
    }
    return out;
  }
  function show(key) {
    var n = nodes[key], original = key === "original";
    if (!n && !original) return;
    panel.textContent = "";
    var add = function (e) { panel.appendChild(e); };
    if (original) {
      add(el("h2", "The original code"));
    } else {
      add(el("h2", "#" + n.id + " in round " + (n.depth + 1) + (n.id === report.best_id ? " (chosen)" : "")));
      if (n.strategy) add(el("p", "Strategy: " + n.strategy));
      if (!n.valid) add(el("p", "Invalid: " + (n.invalid_reason || "no usable code"), "warning"));
    }
    add(el("h2", "Execution"));
    execution(original ? report.original : n.execution).forEach(add);
    if (!original) {
      var c = n.critique || {}, s = n.scores || {};
      add(el("h2", "Critique" + (c.score !== null && c.score !== undefined ? " (" + c.score + "/5)" : "")));
      add(el("pre", c.text || "(none)", "text"));
      add(el("h2", "Scores"));
      add(table([["step", (s.step || 0).toFixed(3)], ["process (critic)", (s.process || 0).toFixed(3)],
        ["outcome (tests, profile)", (s.outcome || 0).toFixed(3)], ["pass ratio", (s.pass_ratio || 0).toFixed(3)],
        ["efficiency", (s.efficiency || 0).toFixed(3)], ["alpha / beta", s.alpha + " / " + s.beta]]));
      if (n.reasoning) { add(el("h2", "Reasoning")); add(el("pre", n.reasoning, "text")); }
    }
    add(el("h2", "Code"));
    add(el("pre", original ? report.original_code : n.code || "(none)"));
    document.querySelectorAll(".node.selected").forEach(function (g) { g.classList.remove("selected"); });
    var box = document.querySelector('.node[data-node="' + key + '"]');
    if (box) { box.classList.add("selected"); if (box.scrollIntoView) box.scrollIntoView({block: "nearest", inline: "nearest"}); }
  }
  document.querySelectorAll(".node").forEach(function (g) {
    var key = g.getAttribute("data-node");
    g.addEventListener("click", function () { show(key); });
    g.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(key); }
    });
  });
  show(report.best_id !== null && report.best_id !== undefined ? String(report.best_id) : "original");
})();
