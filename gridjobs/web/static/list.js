// The operations list follows /live (the principal's event stream) and updates each row's
// status and progress in place; a new operation that fits the filters joins at the top.
// It makes no other request.
(function () {
  "use strict";
  const table = document.getElementById("ops");
  if (!table) { return; }
  const body = table.tBodies[0];
  const filters = table.dataset;
  const STATUS = {
    "operation.accepted": "queued", "operation.started": "running", "operation.paused": "paused",
    "operation.resumed": "running", "operation.succeeded": "succeeded", "operation.failed": "failed",
    "operation.cancelled": "cancelled",
  };

  // An event names the operation's kind and status but not its feeders: with a feeder
  // filter, a new operation shows on the next load rather than on a guess.
  function fits(data, status) {
    return !filters.feeder && (!filters.kind || data.kind === filters.kind) &&
      (!filters.status || status === filters.status);
  }

  function newRow(data, status) {
    const row = document.createElement("tr");
    row.dataset.op = data.operation_id;
    const values = [null, data.kind || "", "", status, null, ""];
    values.forEach(function (value, i) {
      const td = document.createElement("td");
      if (i === 0) {
        const a = document.createElement("a");
        a.href = "/operations/" + data.operation_id;
        a.textContent = new Date().toISOString().replace("T", " ").slice(0, 19);
        td.appendChild(a);
      } else if (i === 3) {
        td.className = "status s-" + status;
        td.textContent = status;
      } else if (i === 4) {
        td.appendChild(document.createElement("progress"));
        const span = document.createElement("span");
        span.className = "counts";
        td.appendChild(span);
      } else {
        td.textContent = value;
      }
      row.appendChild(td);
    });
    const none = body.querySelector("tr.none");
    if (none) { none.remove(); }
    body.insertBefore(row, body.firstChild);
    return row;
  }

  function update(envelope) {
    const data = envelope.data || {};
    if (!data.operation_id) { return; }
    let status = data.status || STATUS[envelope.type];
    let row = body.querySelector('tr[data-op="' + data.operation_id + '"]');
    if (!row && envelope.type === "operation.accepted" && fits(data, status)) { row = newRow(data, status); }
    if (!row) { return; }
    if (status) {
      const cell = row.querySelector(".status");
      cell.textContent = status;
      cell.className = "status s-" + status;
    }
    const p = data.progress;
    if (p) {
      const bar = row.querySelector("progress");
      bar.max = p.total || 1;
      bar.value = p.succeeded + p.failed;
      row.querySelector(".counts").textContent =
        p.succeeded + " ok · " + p.failed + " failed · " + p.pending + " pending";
    }
  }

  const stream = new EventSource("/live");
  Object.keys(STATUS).concat(["operation.progress", "device.failed"]).forEach(function (type) {
    stream.addEventListener(type, function (event) { update(JSON.parse(event.data)); });
  });
}());
