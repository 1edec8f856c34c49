// The gsh observer page: it listens to /events (server-sent events) and
// redraws the node graph, the load charts and the tables from each state.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const q = (s) => document.querySelector(s);
  const svgNS = "http://www.w3.org/2000/svg";
  let state = null, selected = null, selectedPid = null;
  let sortKey = "mailbox", sortAsc = false;

  function el(tag, attrs, text) {
    const e = tag.startsWith("svg:") ? document.createElementNS(svgNS, tag.slice(4)) : document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function bytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
    if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
    return n + " B";
  }
  function node(name) { return state && state.nodes.find((n) => n.name === name); }

  function drawGraph() {
    const g = q("#graph");
    g.replaceChildren();
    const nodes = state.nodes, n = nodes.length;
    const cx = 210, cy = 150, r = n > 1 ? 110 : 0, pos = {};
    nodes.forEach((nd, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(n, 1);
      pos[nd.name] = [cx + r * Math.cos(a), cy + r * Math.sin(a)];
    });
    const seen = {};
    for (const nd of nodes) {
      if (!nd.up || !nd.info) continue;
      const peers = (nd.info.visible || []).map((p) => [p, false]).concat((nd.info.hidden || []).map((p) => [p, true]));
      for (const [p, hidden] of peers) {
        const key = [nd.name, p].sort().join(" ");
        if (seen[key] || !pos[p]) continue;
        seen[key] = true;
        const [x1, y1] = pos[nd.name], [x2, y2] = pos[p];
        g.appendChild(el("svg:line", { x1, y1, x2, y2, class: "edge" + (hidden ? " hidden" : ""), "data-edge": key }));
      }
    }
    for (const nd of nodes) {
      const [x, y] = pos[nd.name];
      const grp = el("svg:g", { class: "node " + (nd.up ? "up" : "down") + (nd.name === selected ? " selected" : ""), "data-node": nd.name });
      const c = el("svg:circle", { cx: x, cy: y, r: 16 });
      const t = el("svg:title", {}, nd.name + (nd.up ? " — up" : " — down: " + (nd.error || "")));
      grp.append(c, t, el("svg:text", { x, y: y + 30 }, nd.name + (nd.name === state.self ? " (observer)" : "")));
      grp.addEventListener("click", () => { selected = nd.name; selectedPid = null; render(); });
      g.appendChild(grp);
    }
  }

  function chart(title, points, fmt) {
    const box = el("div", { class: "chart" });
    const last = points.length ? points[points.length - 1] : 0;
    box.append(el("span", { class: "title" }, title), el("span", { class: "value" }, fmt(last)));
    const s = el("svg:svg", { viewBox: "0 0 200 48", preserveAspectRatio: "none" });
    const max = Math.max(1, ...points);
    const pts = points.map((v, i) => `${(200 * i) / Math.max(points.length - 1, 1)},${46 - (44 * v) / max}`).join(" ");
    s.appendChild(el("svg:polyline", { points: pts }));
    box.appendChild(s);
    return box;
  }

  function drawLoad(nd) {
    q("#load-node").textContent = nd ? nd.name + " · last " + Math.round((nd.history.length || 0)) + " s" : "";
    const c = q("#charts");
    c.replaceChildren();
    if (!nd) return;
    const h = nd.history || [];
    c.append(
      chart("messages / s", h.map((s) => s.msgs), (v) => v.toFixed(0)),
      chart("calls served / s", h.map((s) => s.calls), (v) => v.toFixed(0)),
      chart("memory", h.map((s) => s.mem), bytes),
      chart("goroutines", h.map((s) => s.gor), (v) => String(v)));
  }

  function procRows(nd) {
    const f = q("#filter").value.trim().toLowerCase();
    let ps = ((nd && nd.info && nd.info.processes) || []).map((p) => Object.assign({}, p, {
      links: (p.links || []).length, monitors: (p.monitored_by || []).length + (p.monitoring || []).length,
      label: [p.name, p.global].filter(Boolean).join(" / "), raw: p,
    }));
    if (f) ps = ps.filter((p) => (p.pid + " " + p.label + " " + p.what).toLowerCase().includes(f));
    const key = sortKey === "name" ? "label" : sortKey;
    ps.sort((a, b) => {
      let x = a[key], y = b[key];
      if (key === "pid") { x = Number(a.pid.split(".").pop().replace(">", "")); y = Number(b.pid.split(".").pop().replace(">", "")); }
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sortAsc ? c : -c;
    });
    return ps;
  }

  function drawProcs(nd) {
    q("#procs-node").textContent = nd ? nd.name : "";
    const info = nd && nd.info;
    q("#procs-count").textContent = info ? (info.processes.length < info.process_count ? `(the ${info.processes.length} with the longest mailboxes of ${info.process_count})` : `(${info.process_count})`) : nd && !nd.up ? "(node down)" : "";
    document.querySelectorAll("#procs th").forEach((th) => {
      th.classList.toggle("sorted", th.dataset.key === sortKey);
      th.classList.toggle("asc", th.dataset.key === sortKey && sortAsc);
    });
    const tb = q("#procs tbody");
    tb.replaceChildren();
    for (const p of procRows(nd)) {
      const tr = el("tr", { "data-pid": p.pid });
      if (p.pid === selectedPid) tr.classList.add("selected");
      if (p.mailbox > 1000) tr.classList.add("busy");
      tr.append(el("td", { class: "pid" }, p.pid), el("td", { class: "name" }, p.label), el("td", { class: "what" }, p.what),
        el("td", { class: "num mailbox" }, String(p.mailbox)), el("td", { class: "num dropped" }, String(p.dropped)),
        el("td", { class: "num memory" }, bytes(p.memory)), el("td", { class: "num" }, String(p.links)), el("td", { class: "num" }, String(p.monitors)));
      const td = el("td");
      if (state.allow_kill) {
        const b = el("button", { class: "kill" }, "kill");
        b.addEventListener("click", (ev) => { ev.stopPropagation(); kill(nd.name, p.pid); });
        td.appendChild(b);
      }
      tr.appendChild(td);
      tr.addEventListener("click", () => { selectedPid = p.pid; render(); });
      tb.appendChild(tr);
    }
    const d = q("#detail");
    d.replaceChildren();
    const sel = info && info.processes.find((p) => p.pid === selectedPid);
    if (sel) {
      const list = (xs) => (xs && xs.length ? xs.join(", ") : "none");
      d.innerHTML = "";
      for (const [k, v] of [["process", sel.pid], ["links", list(sel.links)], ["monitored by", list(sel.monitored_by)], ["monitoring", list(sel.monitoring)], ["traps exits", sel.trap_exits ? "yes" : "no"]]) {
        d.append(el("b", {}, k + ": "), document.createTextNode(v + "   "));
      }
    }
  }

  function drawTables(nd) {
    const info = nd && nd.info;
    q("#kvs-node").textContent = nd ? nd.name + (info ? (info.kvs_started ? ` (${info.kvs_count} entries)` : " (not started)") : "") : "";
    const kb = q("#kvs tbody");
    kb.replaceChildren();
    for (const kv of (info && info.kvs) || []) {
      const tr = el("tr");
      tr.append(el("td", {}, kv.key), el("td", { class: "value" }, kv.value));
      kb.appendChild(tr);
    }
    const gb = q("#globals tbody");
    gb.replaceChildren();
    const any = state.nodes.find((n) => n.up && n.info);
    for (const gn of (any && any.info.globals) || []) {
      const tr = el("tr");
      tr.append(el("td", {}, gn.name), el("td", {}, gn.pid));
      gb.appendChild(tr);
    }
  }

  function drawTabs() {
    const t = q("#tabs");
    t.replaceChildren();
    for (const nd of state.nodes) {
      const b = el("button", { class: (nd.name === selected ? "selected " : "") + (nd.up ? "up" : "down"), "data-node": nd.name }, nd.name);
      b.addEventListener("click", () => { selected = nd.name; selectedPid = null; render(); });
      t.appendChild(b);
    }
  }

  function render() {
    if (!state) return;
    q("#self").textContent = "on " + state.self + (state.allow_kill ? " · kill allowed" : " · read only");
    if (!selected || !node(selected)) selected = state.self;
    const nd = node(selected);
    drawGraph();
    drawTabs();
    drawLoad(nd);
    drawProcs(nd);
    drawTables(nd);
  }

  function kill(nodeName, pid) {
    const body = new URLSearchParams({ node: nodeName, pid });
    fetch("kill?token=" + encodeURIComponent(token), { method: "POST", body }).then((r) => r.text()).then((t) => {
      q("#status").textContent = t.trim();
    });
  }

  document.querySelectorAll("#procs th[data-key]").forEach((th) => th.addEventListener("click", () => {
    if (sortKey === th.dataset.key) sortAsc = !sortAsc; else { sortKey = th.dataset.key; sortAsc = th.dataset.key === "pid" || th.dataset.key === "name"; }
    render();
  }));
  q("#filter").addEventListener("input", render);

  const es = new EventSource("events?token=" + encodeURIComponent(token));
  es.onmessage = (ev) => {
    state = JSON.parse(ev.data);
    const s = q("#status");
    s.textContent = "live · " + new Date(state.time).toLocaleTimeString();
    s.className = "status live";
    render();
  };
  es.onerror = () => { const s = q("#status"); s.textContent = "observer unreachable, retrying…"; s.className = "status lost"; };
})();
