"use strict";
// History: compact summaries of the last runs in localStorage, newest first, and their table. The
// browser may refuse storage (privacy settings) and the key may hold anything: the page works on without it.
(() => {
  const { modes, els, intFormat, msFormat, fmt, show, rate, protocolText } = wsbench;

  const HISTORY_KEY = "wsbench.history.v1", HISTORY_MAX = 20;
  const HISTORY_NUMBERS = ["n", "elapsed_ms", "rate", "p50", "p99", "acked", "errors", "rows_verified"];
  const HISTORY_STRINGS = ["date", "mode", "protocol", "store", "commit", "server", "run", "error"];
  const HISTORY_BOOLEANS = ["tls"];
  const dateFormat = new Intl.DateTimeFormat("sv-SE", { dateStyle: "short", timeStyle: "short" }); // 2026-01-31 14:05

  const historyEntry = (r, date, server) => ({ date, mode: `${r.transport}/${r.mode}`, protocol: r.protocol ?? null, tls: r.tls ?? null,
    n: r.n, elapsed_ms: r.elapsed_ms, rate: rate(r), p50: r.latency_ms?.p50 ?? null, p99: r.latency_ms?.p99 ?? null, store: r.store,
    commit: r.commit, acked: r.acked, errors: r.errors, rows_verified: r.rows_verified, server, run: r.run, error: r.error ?? null });

  // Throws only when storage itself is refused; what is not a history entry is dropped, field by field.
  function loadHistory() {
    const raw = localStorage.getItem(HISTORY_KEY);
    let list = null;
    try { list = JSON.parse(raw); } catch { /* garbage: start afresh */ }
    const pick = (e, keys, ok) => keys.map((key) => [key, ok(e[key]) ? e[key] : null]);
    return (Array.isArray(list) ? list : []).filter((e) => modes.has(e?.mode)).slice(0, HISTORY_MAX)
      .map((e) => Object.fromEntries([...pick(e, HISTORY_NUMBERS, Number.isFinite), ...pick(e, HISTORY_STRINGS, (v) => typeof v === "string"),
                                       ...pick(e, HISTORY_BOOLEANS, (v) => typeof v === "boolean")]));
  }

  // change(entries) gives the entries to keep; without it, only show them.
  function updateHistory(change) {
    let entries = [], problem = null;
    try {
      entries = change ? change(loadHistory()) : loadHistory();
      if (change) entries.length ? localStorage.setItem(HISTORY_KEY, JSON.stringify(entries)) : localStorage.removeItem(HISTORY_KEY);
    } catch (e) {
      [entries, problem] = [[], e.message];
    }
    show(els.history_note, problem ? `History is unavailable: this browser does not let the page keep it (${problem}).` : "");
    const body = els.history.tBodies[0];
    body.replaceChildren();
    for (const e of entries) {
      const tr = body.insertRow(), date = new Date(e.date ?? NaN); // new Date(null) would be 1970
      for (const text of [Number.isNaN(date.getTime()) ? "—" : dateFormat.format(date), modes.get(e.mode).label, fmt(intFormat, e.n),
                          fmt(msFormat, e.elapsed_ms), fmt(intFormat, e.rate), `${fmt(msFormat, e.p50)} / ${fmt(msFormat, e.p99)}`,
                          [e.store, e.commit].filter(Boolean).join(", ") || "—", `${fmt(intFormat, e.acked)} / ${fmt(intFormat, e.errors)}`,
                          e.store === "null" ? "not stored" : fmt(intFormat, e.rows_verified), protocolText(e), e.server ?? "—"]) {
        tr.insertCell().textContent = text;
      }
      if (e.error || e.errors) Object.assign(tr.cells[7], { className: "error", title: e.error ?? "" });
    }
    els.history.hidden = els.clear_history.hidden = !entries.length;
    els.history_section.hidden = !entries.length && !problem;
  }

  Object.assign(wsbench, {
    showHistory: () => updateHistory(),
    clearHistory: () => updateHistory(() => []),
    // A run that just ended, from `server` at `date` (ISO), as the newest entry.
    rememberRun: (result, date, server) => updateHistory((entries) => [historyEntry(result, date, server), ...entries].slice(0, HISTORY_MAX)),
  });
})();
