// Polls the live endpoint and re-renders the first page of transactions.
(function () {
  const table = document.getElementById("transactions");
  if (!table) return;
  const body = table.querySelector("tbody");
  const text = (tag, value) => { const el = document.createElement(tag); el.textContent = value; return el; };
  function render(rows) {
    if (!rows.length) return;
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      tr.append(text("td", r.occurred_at), text("td", r.external_id), text("td", r.location), text("td", r.total),
                text("td", r.status));
      const inv = document.createElement("td");
      if (r.invoice_url) { const a = text("a", r.invoice_number || "(draft)"); a.href = r.invoice_url; inv.append(a); }
      const firs = document.createElement("td");
      firs.className = "firs";
      const badge = text("span", r.firs_status);
      badge.className = "state state-" + r.firs_state;
      firs.append(badge);
      if (r.invoice_error) { const why = text("span", r.invoice_error); why.className = "error"; firs.append(" ", why); }
      tr.append(inv, firs);
      return tr;
    }));
  }
  async function poll() {
    try {
      const resp = await fetch(table.dataset.liveUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (resp.ok) render((await resp.json()).results);
    } catch (e) { /* offline for a moment: try again next tick */ }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
