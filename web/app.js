// The seat-map page of seatd. Plain script, no build step, no framework: the
// server is the source of truth, this file keeps only what the user is doing
// (picked seats, their own hold), and applySeatMap is the one place the grid
// changes.
"use strict";

(() => {
  // Every API path the page uses, in one place; web_test.go checks each against
  // the server's real routes so a typo fails the build instead of the page.
  const API = {
    shows: "/api/seats/shows",
    seatMap: "/api/seats/", // + showId
    hold: "/api/seats/hold-bulk",
    book: "/api/seats/book-bulk",
    release: "/api/seats/release-bulk",
  };
  const MAX_SEATS = 10; // the server's default limit; the server still enforces its own
  const POLL_MS = 2000;
  const FLASH_MS = 2500;
  const STATE_TEXT = { available: "available", selected: "selected", mine: "held by you", held: "held", booked: "booked" };

  const $ = (id) => document.getElementById(id);
  const el = {
    user: $("user-id"), showList: $("show-list"), heading: $("hall-heading"), info: $("hall-info"),
    screen: $("screen"), grid: $("seat-grid"), selection: $("selection"), countdown: $("countdown"),
    holdBtn: $("hold-btn"), bookBtn: $("book-btn"), releaseBtn: $("release-btn"), status: $("status"),
  };

  const userId = loadUserId();
  let shows = [];
  let current = null; // the open show: {showId, seq, map, byId}
  let hold = loadHold(); // the user's live hold: {token, showId, seatIds, labels, deadline}
  let busy = false; // a POST is in flight; its buttons stay disabled so it is not sent twice
  let pollGen = 0; // bumps on every refresh so only the newest one schedules the next
  let pollTimer = 0;
  const selected = new Set(); // seat ids picked but not yet held
  const flashing = new Set(); // seat ids a failed request named, highlighted for a moment
  const buttons = new Map(); // seat id → its button in the open show's grid
  const cells = new Map(); // "row,column" → button, for arrow-key moves
  const counts = new Map(); // show id → the element showing its free seats

  // Storage can be switched off (private windows); the page then still works,
  // it just forgets the guest id and the hold on reload.
  function stored(key) {
    try { return localStorage.getItem(key); } catch { return null; }
  }
  function store(key, value) {
    try { value == null ? localStorage.removeItem(key) : localStorage.setItem(key, value); } catch { /* see stored */ }
  }

  function hex(n) {
    return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // A guest id made once per browser, so the user's holds stay theirs across reloads.
  function loadUserId() {
    let id = stored("seatd.userId");
    if (!/^guest-[0-9a-f]{8}$/.test(id || "")) {
      id = "guest-" + hex(4);
      store("seatd.userId", id);
    }
    return id;
  }

  // crypto.randomUUID exists only in secure contexts (https, localhost); opened
  // over plain http on a LAN address, build the same v4 UUID by hand.
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const h = hex(16).split("");
    h[12] = "4";
    h[16] = "89ab"[parseInt(h[16], 16) & 3];
    return h.join("").replace(/^(.{8})(.{4})(.{4})(.{4})/, "$1-$2-$3-$4-");
  }

  function loadHold() {
    try {
      const h = JSON.parse(stored("seatd.hold"));
      return h && h.deadline > Date.now() ? h : null;
    } catch { return null; }
  }
  function setHold(h) {
    hold = h;
    store("seatd.hold", h && JSON.stringify(h));
  }

  // api returns the JSON body of a successful answer. A failure throws an Error
  // whose message is "title: detail" and whose problem is the RFC 9457 body.
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": uuid() },
      body: JSON.stringify(body),
    };
    const res = await fetch(path, init).catch((e) => {
      throw Object.assign(new Error("Network error: " + e.message), { problem: {} });
    });
    const data = await res.json().catch(() => null);
    if (res.ok) return data;
    const p = data && data.title ? data : { title: `HTTP ${res.status} ${res.statusText}`.trim(), status: res.status };
    throw Object.assign(new Error(p.detail ? `${p.title}: ${p.detail}` : p.title), { problem: p });
  }

  function h(tag, props, ...children) {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  }

  function say(message, isError = false) {
    el.status.textContent = message;
    el.status.classList.toggle("error", isError);
  }

  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  async function loadShows() {
    try {
      shows = await api(API.shows);
    } catch (e) {
      say(e.message, true);
      return;
    }
    // Re-rendering replaces the buttons; put focus back where the user had it.
    const focused = document.activeElement?.dataset?.show;
    counts.clear();
    el.showList.replaceChildren(...shows.map((s) => {
      const count = h("span", { className: "count", textContent: `${s.seatsAvailable} / ${s.seatsTotal} seats free` });
      counts.set(s.id, count);
      const b = h("button", { type: "button", className: "show" },
        h("strong", { textContent: s.movieTitle }),
        h("time", { dateTime: s.startsAt, textContent: when.format(new Date(s.startsAt)) }),
        h("span", { textContent: s.auditorium }), count);
      b.dataset.show = s.id;
      b.addEventListener("click", () => openShow(s.id));
      return h("li", {}, b);
    }));
    if (!shows.length) el.showList.replaceChildren(h("li", { className: "muted", textContent: "No shows yet." }));
    markOpenShow();
    if (focused) el.showList.querySelector(`[data-show="${CSS.escape(focused)}"]`)?.focus();
  }

  function markOpenShow() {
    for (const b of el.showList.querySelectorAll(".show")) {
      if (b.dataset.show === current?.showId) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    }
  }

  function openShow(id) {
    if (current?.showId === id) return;
    const show = shows.find((s) => s.id === id);
    current = { showId: id, seq: -1, map: null, byId: new Map() };
    selected.clear();
    buttons.clear();
    cells.clear();
    el.grid.replaceChildren();
    el.heading.textContent = show.movieTitle;
    el.info.textContent = `${when.format(new Date(show.startsAt))} · ${show.auditorium}`;
    el.screen.hidden = false;
    history.replaceState(null, "", "#" + id); // a reload reopens this show
    markOpenShow();
    renderActions();
    refresh();
  }

  // refresh fetches the open show's seat map and schedules the next fetch: polling
  // every POLL_MS until live WebSocket updates replace it. A chain of timeouts, not
  // setInterval, so slow answers never pile up; hidden tabs skip the fetch.
  async function refresh() {
    clearTimeout(pollTimer);
    const gen = ++pollGen;
    const showId = current?.showId;
    if (!showId) return;
    if (!document.hidden) {
      try {
        applySeatMap(await api(API.seatMap + encodeURIComponent(showId)));
      } catch (e) {
        if (current?.showId === showId) say(e.message, true);
      }
    }
    if (gen === pollGen && current?.showId === showId) pollTimer = setTimeout(refresh, POLL_MS);
  }

  // applySeatMap is the single place the seat grid is updated. The poll calls it
  // now; live WebSocket updates will call it later with the same shape
  // ({showId, seq, seats}), and local changes (picking, flashing) re-apply the last
  // map. It builds the buttons once per show and afterwards only updates them, so
  // keyboard focus survives every refresh.
  function applySeatMap(map) {
    if (!current || map.showId !== current.showId || map.seq < current.seq) return; // a stale answer
    current.seq = map.seq;
    current.map = map;
    if (!buttons.size) buildGrid(map.seats);
    let free = 0;
    const lost = [];
    for (const seat of map.seats) {
      const b = buttons.get(seat.id);
      if (!b) continue;
      current.byId.set(seat.id, seat);
      if (seat.status === "available") free++;
      else if (selected.delete(seat.id)) lost.push(seat.label);
      const state = isMine(seat) ? "mine" : selected.has(seat.id) ? "selected" : seat.status;
      b.className = `seat ${state}` + (seat.category === "premium" ? " premium" : "") + (flashing.has(seat.id) ? " flash" : "");
      b.setAttribute("aria-pressed", String(state === "selected"));
      b.setAttribute("aria-disabled", String(state !== "available" && state !== "selected"));
      b.setAttribute("aria-label", `Row ${seat.row} seat ${seat.number}, ${STATE_TEXT[state] || seat.status}, ${seat.category}`);
    }
    if (lost.length) say(`Taken by someone else meanwhile: ${lost.join(", ")}`, true);
    const count = counts.get(map.showId);
    if (count) count.textContent = `${free} / ${map.seats.length} seats free`;
    renderActions();
  }

  // The seat map says only "held"; the hold response says which of those are ours.
  function isMine(seat) {
    return !!hold && hold.showId === current.showId && hold.seatIds.includes(seat.id) && seat.status !== "booked";
  }

  function buildGrid(seats) {
    const rows = [...new Set(seats.map((s) => s.row))].sort((a, b) => a.length - b.length || a.localeCompare(b));
    const cols = Math.max(...seats.map((s) => s.number));
    el.grid.style.gridTemplateColumns = `auto repeat(${cols}, var(--seat)) auto`;
    rows.forEach((row, i) => {
      for (const col of [1, cols + 2]) {
        const label = h("span", { className: "row-label", textContent: row });
        label.setAttribute("aria-hidden", "true");
        label.style.gridArea = `${i + 1} / ${col}`;
        el.grid.append(label);
      }
    });
    // DOM order (row, then number) is the reading and Tab order.
    const sorted = [...seats].sort((a, b) => rows.indexOf(a.row) - rows.indexOf(b.row) || a.number - b.number);
    for (const seat of sorted) {
      const r = rows.indexOf(seat.row);
      const b = h("button", { type: "button", className: "seat", textContent: seat.number, tabIndex: -1 });
      b.dataset.id = seat.id;
      b.dataset.pos = `${r},${seat.number}`;
      b.style.gridArea = `${r + 1} / ${seat.number + 1}`;
      buttons.set(seat.id, b);
      cells.set(b.dataset.pos, b);
      el.grid.append(b);
    }
    // One seat in the Tab order (roving tabindex): Tab leaves the grid, arrows move in it.
    if (sorted.length) buttons.get(sorted[0].id).tabIndex = 0;
  }

  const MOVES = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };

  el.grid.addEventListener("keydown", (e) => {
    const move = MOVES[e.key];
    const b = e.target.closest(".seat");
    if (!move || !b) return;
    e.preventDefault();
    let [r, c] = b.dataset.pos.split(",").map(Number);
    // Step over gaps (aisles, missing seats) until a seat or the edge.
    for (let i = 0; i < 100; i++) {
      r += move[0];
      c += move[1];
      const next = cells.get(`${r},${c}`);
      if (next) return next.focus();
    }
  });
  el.grid.addEventListener("focusin", (e) => {
    if (!e.target.matches(".seat")) return;
    for (const b of el.grid.querySelectorAll(".seat[tabindex='0']")) b.tabIndex = -1;
    e.target.tabIndex = 0;
  });
  el.grid.addEventListener("click", (e) => {
    const b = e.target.closest(".seat");
    if (b && current?.map) toggle(current.byId.get(b.dataset.id));
  });

  function toggle(seat) {
    if (selected.has(seat.id)) selected.delete(seat.id);
    else if (hold) return say("Book or release the seats you hold first.", true);
    else if (seat.status !== "available") return say(`${seat.label} is ${seat.status}.`);
    else if (selected.size >= MAX_SEATS) return say(`You can pick at most ${MAX_SEATS} seats at once.`, true);
    else selected.add(seat.id);
    applySeatMap(current.map);
  }

  function labels(ids) {
    return ids.map((id) => current?.byId.get(id)?.label || "?").join(", ");
  }

  function renderActions() {
    el.selection.textContent = hold ? `Holding ${hold.labels}.`
      : selected.size ? `Selected ${selected.size}: ${labels([...selected])}.` : "No seats selected.";
    el.holdBtn.disabled = busy || !!hold || !selected.size;
    el.bookBtn.disabled = el.releaseBtn.disabled = busy || !hold;
  }

  function tick() {
    el.countdown.hidden = !hold;
    if (!hold) return;
    const left = Math.max(0, Math.ceil((hold.deadline - Date.now()) / 1000));
    el.countdown.textContent = `Hold expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    el.countdown.classList.toggle("urgent", left <= 10);
    if (left === 0) {
      setHold(null);
      say("Your hold expired; those seats are back on sale.", true);
      renderActions();
      refresh();
    }
  }

  function flash(ids) {
    ids.forEach((id) => flashing.add(id));
    if (current?.map) applySeatMap(current.map);
    setTimeout(() => {
      ids.forEach((id) => flashing.delete(id));
      if (current?.map) applySeatMap(current.map);
    }, FLASH_MS);
  }

  // act runs one POST at a time and reports its failure. Either way it reloads the
  // map and the counts: after a conflict the map is what the user needs to see.
  // ofHold marks book and release: a 409 or 410 there means the hold is no longer
  // wholly the user's, so it is dropped and the map shows what is left.
  async function act(fn, ofHold) {
    busy = true;
    renderActions();
    try {
      await fn();
    } catch (e) {
      const p = e.problem || {};
      const named = [...(p.conflictingSeatIds || []), ...(p.expiredSeatIds || []), ...(p.unknownSeatIds || [])];
      named.forEach((id) => selected.delete(id));
      if (ofHold && (p.status === 409 || p.status === 410)) setHold(null);
      // Details name seats by id; people know them by label.
      say(e.message.replace(/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/gi, (id) => current?.byId.get(id)?.label || id), true);
      flash(named);
    } finally {
      busy = false;
      renderActions();
      loadShows();
      refresh();
    }
  }

  el.holdBtn.addEventListener("click", () => act(async () => {
    const seatIds = [...selected];
    const sent = Date.now();
    const r = await api(API.hold, { seatIds, userId });
    // Count down on this browser's clock, which may disagree with the server's:
    // the earlier of expiresAt and send time + TTL never promises time the hold lacks.
    const deadline = Math.min(Date.parse(r.expiresAt), sent + r.ttlSeconds * 1000);
    setHold({ token: r.holdToken, showId: r.showId, seatIds: r.seatIds, labels: labels(r.seatIds), deadline });
    selected.clear();
    say(`Held ${hold.labels}. Book before the countdown ends.`);
  }, false));

  // Book and release keep their own reference: the countdown may drop the hold
  // while the request is on its way.
  el.bookBtn.addEventListener("click", () => act(async (held = hold) => {
    const r = await api(API.book, { seatIds: held.seatIds, userId, holdToken: held.token });
    say(`Booked ${held.labels}. Booking ${r.bookingId}.`);
    setHold(null);
  }, true));

  el.releaseBtn.addEventListener("click", () => act(async (held = hold) => {
    await api(API.release, { seatIds: held.seatIds, userId, holdToken: held.token });
    say(`Released ${held.labels}.`);
    setHold(null);
  }, true));

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refresh();
  });

  el.user.textContent = userId;
  setInterval(tick, 250);
  tick();
  renderActions();
  loadShows().then(() => {
    const id = decodeURIComponent(location.hash.slice(1)) || hold?.showId;
    if (shows.some((s) => s.id === id)) openShow(id);
  });
})();
