// The live event viewer: one websocket to /ws/monitor/<tenant>/, a table of the newest rows, a rate chart.
// Everything that arrives is untrusted: it is only ever written with textContent, never parsed as HTML.
(function () {
  "use strict";

  var root = document.getElementById("live");
  if (!root) return;

  var MAX_ROWS = 500;
  var CHART_SECONDS = 60;
  var KIND_LABELS = { broker: "broker", ingested: "ingested", delivery: "delivery", dead_letter: "dead letter", endpoint_disabled: "endpoint" };
  var $ = function (id) { return document.getElementById(id); };
  var el = {
    conn: $("lv-conn"), connText: $("lv-conn-text"), rate: $("lv-rate"), count: $("lv-count"),
    dropped: $("lv-dropped"), skipped: $("lv-skipped"), error: $("lv-error"), form: $("lv-filter"),
    pause: $("lv-pause"), clear: $("lv-clear"), rows: $("lv-rows"), empty: $("lv-empty"),
    chart: $("lv-chart"), peak: $("lv-peak"), detail: $("lv-detail"), dTitle: $("lv-d-title"),
    dMeta: $("lv-d-meta"), dBody: $("lv-d-body"), dProps: $("lv-d-props"), dTrunc: $("lv-d-truncated"),
    dClose: $("lv-d-close"),
  };

  var state = {
    socket: null, retry: 0, retryTimer: null, paused: false, filter: {},
    droppedTotal: 0, shown: 0, selected: null,
    perSecond: new Array(CHART_SECONDS).fill(0), currentSecond: 0,
  };
  var itemsByRow = new WeakMap();

  // --- connection with back-off -------------------------------------------------------------------
  function setConn(kind, text) {
    el.conn.dataset.state = kind;
    el.connText.textContent = text;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    setConn("connecting", state.retry ? "reconnecting…" : "connecting…");
    var socket;
    try {
      socket = new WebSocket(scheme + location.host + root.dataset.wsPath);
    } catch (e) {
      return scheduleReconnect();
    }
    state.socket = socket;
    socket.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(frame);
    };
    socket.onclose = function (ev) {
      if (state.socket !== socket) return;
      // The server re-checks access while streaming: once it has ended, reconnecting would only be refused again.
      if (ev.code === 4401 || ev.code === 4403) {
        state.socket = null;
        setConn("offline", ev.code === 4401 ? "access ended · sign in again" : "access ended · no longer a member of this tenant");
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    state.socket = null;
    var delay = Math.min(15000, 500 * Math.pow(2, state.retry)) * (0.8 + Math.random() * 0.4);
    state.retry += 1;
    var until = Date.now() + delay;
    var tick = function () {
      var left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      setConn("offline", "offline · retrying in " + left + " s");
      if (left > 0) state.retryTimer = setTimeout(tick, 1000);
    };
    tick();
    state.retryTimer = setTimeout(connect, delay);
  }

  function send(message) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(message));
  }

  // --- frames from the server ---------------------------------------------------------------------
  function onFrame(frame) {
    switch (frame.kind) {
      case "hello":
        state.retry = 0;
        setConn("connected", "connected");
        // A reconnect starts from a fresh server-side connection: restore what the user chose.
        if (hasFilter(state.filter)) send(Object.assign({ action: "filter" }, state.filter));
        if (state.paused) send({ action: "pause" });
        break;
      case "batch":
        if (frame.dropped > 0) noteDropped(frame.dropped);
        addItems(Array.isArray(frame.items) ? frame.items : []);
        break;
      case "filter":
        showError("");
        if (Array.isArray(frame.keep)) keepOnly(frame.keep);
        break;
      case "paused":
        setConn("paused", "connected · paused");
        break;
      case "resumed":
        setConn("connected", "connected");
        if (frame.skipped > 0) {
          el.skipped.textContent = frame.skipped.toLocaleString() + " skipped while paused";
          el.skipped.hidden = false;
        }
        break;
      case "error":
        showError(describeError(frame));
        break;
    }
  }

  function describeError(frame) {
    var parts = [String(frame.message || "The server refused that.")];
    (frame.details || []).forEach(function (d) { parts.push(String(d.message || "")); });
    return parts.join(" ");
  }

  function showError(text) {
    el.error.textContent = text;
    el.error.hidden = !text;
  }

  function noteDropped(n) {
    state.droppedTotal += n;
    el.dropped.textContent = state.droppedTotal.toLocaleString() + " dropped";
    el.dropped.title = "The server dropped the oldest events because this page could not keep up.";
    el.dropped.hidden = false;
    state.perSecond[state.currentSecond] += n;
  }

  // --- the table ----------------------------------------------------------------------------------
  function text(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function timeOf(ts) {
    var d = new Date(typeof ts === "number" ? ts : Date.now());
    var pad = function (n, w) { return String(n).padStart(w || 2, "0"); };
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function cell(row, value, cls) {
    var td = document.createElement("td");
    td.textContent = text(value);
    if (cls) td.className = cls;
    td.title = td.textContent;
    row.appendChild(td);
    return td;
  }

  function addItems(items) {
    if (!items.length) return;
    state.perSecond[state.currentSecond] += items.length;
    var fragment = document.createDocumentFragment();
    // The newest first: a burst is added in reverse so the last item ends up on top.
    for (var i = items.length - 1; i >= Math.max(0, items.length - MAX_ROWS); i--) {
      var item = items[i];
      if (!item || typeof item !== "object") continue;
      var row = document.createElement("tr");
      row.tabIndex = 0;
      row.className = "lv-row lv-kind-" + text(item.kind).replace(/[^a-z_]/g, "");
      cell(row, timeOf(item.ts), "lv-c-time");
      cell(row, KIND_LABELS[item.kind] || text(item.kind), "lv-c-kind");
      cell(row, item.source || (item.kind === "ingested" ? item.origin : ""), "lv-c-source");
      cell(row, item.routingKey, "lv-mono");
      cell(row, item.type, "lv-mono");
      cell(row, item.tenant, "lv-c-tenant");
      var outcome = cell(row, text(item.outcome).replace("_", "-"), "lv-c-outcome");
      if (item.outcome) outcome.dataset.outcome = text(item.outcome);
      itemsByRow.set(row, item);
      fragment.appendChild(row);
    }
    el.rows.insertBefore(fragment, el.rows.firstChild);
    while (el.rows.childElementCount > MAX_ROWS) el.rows.removeChild(el.rows.lastElementChild);
    state.shown += items.length;
    el.count.textContent = state.shown.toLocaleString();
    el.empty.hidden = true;
  }

  function select(row) {
    var item = itemsByRow.get(row);
    if (!item) return;
    if (state.selected) state.selected.classList.remove("lv-selected");
    state.selected = row;
    row.classList.add("lv-selected");
    el.dTitle.textContent = text(item.type || item.routingKey || item.kind);
    el.dMeta.replaceChildren();
    [
      ["Time", new Date(item.ts).toISOString()], ["Kind", item.kind], ["Tenant", item.tenant], ["Source", item.source],
      ["Exchange", item.exchange], ["Routing key", item.routingKey], ["Type", item.type], ["Outcome", item.outcome],
      ["Reason", item.reason], ["Event id", item.eventId], ["Delivery id", item.deliveryId], ["Attempt", item.attempt],
      ["Dead letter id", item.deadLetterId], ["Endpoint id", item.endpointId],
      ["Changed", Array.isArray(item.changed) ? (item.changed.join(", ") || "(nothing)") : undefined],
    ].forEach(function (pair) {
      if (pair[1] === undefined || pair[1] === null || pair[1] === "") return;
      var dt = document.createElement("dt");
      var dd = document.createElement("dd");
      dt.textContent = pair[0];
      dd.textContent = text(pair[1]);
      el.dMeta.append(dt, dd);
    });
    el.dBody.textContent = pretty(item.body);
    el.dProps.textContent = item.properties ? JSON.stringify(item.properties, null, 2) : "—";
    el.dTrunc.hidden = !item.truncated;
    el.dTrunc.textContent = item.truncated
      ? "Cut at 64 KiB for the stream (" + Number(item.size).toLocaleString() + " bytes in full)" + (item.eventId ? "; the full event is in the event log." : ".")
      : "";
    el.detail.hidden = false;
  }

  function pretty(body) {
    var raw = text(body);
    if (!raw) return "(empty)";
    try { return JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { return raw; }
  }

  el.rows.addEventListener("click", function (ev) {
    var row = ev.target.closest("tr");
    if (row) select(row);
  });
  el.rows.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && ev.target.matches("tr")) select(ev.target);
  });
  el.dClose.addEventListener("click", function () {
    el.detail.hidden = true;
    if (state.selected) state.selected.classList.remove("lv-selected");
    state.selected = null;
  });

  // A new filter: the server says which of the shown rows still pass it; the others go.
  function keepOnly(seqs) {
    var keep = new Set(seqs);
    Array.from(el.rows.children).forEach(function (row) {
      var item = itemsByRow.get(row);
      if (!item || !keep.has(item.seq)) row.remove();
    });
    state.shown = el.rows.childElementCount;
    el.count.textContent = state.shown.toLocaleString();
    el.empty.hidden = state.shown > 0;
  }

  // --- controls -----------------------------------------------------------------------------------
  function hasFilter(f) {
    return Object.keys(f).length > 0;
  }

  el.form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var f = {};
    var types = $("lv-f-types").value.split(/[\s,]+/).filter(Boolean);
    if (types.length) f.types = types;
    var rk = $("lv-f-rk").value.trim();
    if (rk) f.routingKey = rk;
    var source = $("lv-f-source").value.trim();
    if (source) f.source = source;
    var outcome = $("lv-f-outcome").value;
    if (outcome) f.outcome = outcome;
    state.filter = f;
    send(Object.assign({ action: "filter" }, f));
  });

  el.pause.addEventListener("click", function () {
    state.paused = !state.paused;
    el.pause.textContent = state.paused ? "Resume" : "Pause";
    el.pause.setAttribute("aria-pressed", String(state.paused));
    if (!state.paused) el.skipped.hidden = true;
    send({ action: state.paused ? "pause" : "resume" });
  });

  el.clear.addEventListener("click", function () {
    el.rows.replaceChildren();
    state.shown = 0;
    state.droppedTotal = 0;
    el.count.textContent = "0";
    el.dropped.hidden = true;
    el.skipped.hidden = true;
    el.empty.hidden = false;
    el.detail.hidden = true;
    state.selected = null;
  });

  // --- events per second, drawn on a canvas -------------------------------------------------------
  function drawChart() {
    var canvas = el.chart;
    var ratio = window.devicePixelRatio || 1;
    var width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== width * ratio) { canvas.width = width * ratio; canvas.height = height * ratio; }
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    // Oldest on the left: the slot after the current one, wrapping around.
    var values = [];
    for (var i = 1; i <= CHART_SECONDS; i++) values.push(state.perSecond[(state.currentSecond + i) % CHART_SECONDS]);
    var completed = values.slice(0, -1);
    var peak = Math.max.apply(null, completed.concat([1]));
    var style = getComputedStyle(root);
    var barWidth = width / CHART_SECONDS;
    ctx.fillStyle = style.getPropertyValue("--lv-chart-bar").trim() || "#3b6fd8";
    completed.forEach(function (v, i) {
      var h = Math.round((v / peak) * (height - 6));
      if (v > 0) ctx.fillRect(i * barWidth + 1, height - Math.max(h, 1), Math.max(barWidth - 2, 1), Math.max(h, 1));
    });
    ctx.strokeStyle = style.getPropertyValue("--lv-chart-grid").trim() || "#e3e7ee";
    ctx.beginPath(); ctx.moveTo(0, height - 0.5); ctx.lineTo(width, height - 0.5); ctx.stroke();
    el.peak.textContent = Math.max.apply(null, completed).toLocaleString();
    el.rate.textContent = completed[completed.length - 1].toLocaleString();
  }

  setInterval(function () {
    state.currentSecond = (state.currentSecond + 1) % CHART_SECONDS;
    state.perSecond[state.currentSecond] = 0;
    drawChart();
  }, 1000);
  window.addEventListener("resize", drawChart);

  drawChart();
  connect();
})();
