// The operation view follows one SSE stream (/operations/<id>/live) of snapshots and
// copies each into the page. It makes no other request; the hold's countdown is local.
(function () {
  "use strict";
  const root = document.getElementById("operation");
  if (!root) { return; }
  // The hold's end on the browser's own clock: now plus the seconds the server said were left.
  function holdEnd(left) { return left === "" || left === null || left === undefined ? null : Date.now() / 1000 + Number(left); }
  let holdUntil = holdEnd(root.dataset.holdLeft);
  let phase = document.getElementById("phase").textContent;

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(r).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function cell(row, value, cls) {
    const td = document.createElement("td");
    td.textContent = value === null || value === undefined ? "" : String(value);
    if (cls) { td.className = cls; }
    row.appendChild(td);
  }

  function deviceRow(d) {
    const row = document.createElement("tr");
    row.dataset.device = d.id;
    const first = document.createElement("td"), link = document.createElement("a");
    link.href = "/devices/" + encodeURIComponent(d.id);
    link.textContent = d.id;
    first.appendChild(link);
    row.appendChild(first);
    cell(row, d.state, "state st-" + d.state);
    cell(row, d.step);
    cell(row, d.code);
    cell(row, d.attempts);
    cell(row, d.reading_kw);
    return row;
  }

  function render(s) {
    const status = document.getElementById("status");
    status.textContent = s.status;
    status.className = "status s-" + s.status;
    phase = s.phase.label;
    holdUntil = s.phase.name === "hold" ? holdEnd(s.phase.left_s) : null;
    text("phase", phase);
    if (s.kw.target !== null && document.getElementById("kw-achieved")) {
      text("kw-achieved", Number(s.kw.achieved || 0).toFixed(1));
      document.getElementById("kw-bar").value = s.kw.achieved || 0;
    }
    const p = s.progress, bar = document.getElementById("progress-bar");
    bar.max = p.total || 1;
    bar.value = p.succeeded + p.failed;
    text("progress-counts", p.succeeded + " ok · " + p.failed + " failed · " + p.pending +
         " pending of " + p.total);
    document.getElementById("devices").replaceChildren(...s.devices.map(deviceRow));
    document.getElementById("actions").hidden = s.terminal;
    root.dataset.terminal = s.terminal ? "true" : "false";
    root.dataset.snapshots = String(Number(root.dataset.snapshots || 0) + 1);
  }

  setInterval(function () {
    if (holdUntil !== null) { text("phase", "hold, " + clock(holdUntil - Date.now() / 1000) + " left"); }
  }, 1000);

  // Cancel and Resume post their form (with its CSRF token) and stay on the page: the
  // stream shows what follows. Without script the forms post and come back here.
  document.querySelectorAll("#actions form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const body = new URLSearchParams(new FormData(form));
      fetch(form.action, { method: "POST", body: body, headers: { "Accept": "application/json" },
                           credentials: "same-origin" })
        .then(function (response) {
          if (response.ok) { text("action-error", ""); return; }
          return response.json().then(function (problem) { text("action-error", problem.detail); });
        })
        .catch(function () { text("action-error", "the server did not answer; try again"); });
    });
  });

  if (root.dataset.terminal !== "true") {
    const stream = new EventSource("/operations/" + encodeURIComponent(root.dataset.op) + "/live");
    stream.addEventListener("snapshot", function (event) {
      const s = JSON.parse(event.data);
      render(s);
      if (s.terminal) { stream.close(); }
    });
  }
}());
