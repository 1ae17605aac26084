// The seat-map page of seatd. Plain script, no build step, no framework: the
// server is the source of truth, this file keeps only what the user is doing
// (picked seats, their own hold), and applySeatMap is the one place the grid
// changes. The open show's seats arrive over a live socket (a snapshot, then
// every change in seq order); where the socket cannot open, the page polls the
// seat map and says so.
"use strict";

(() => {
  // Every API path the page uses, in one place; web_test.go checks each against
  // the server's real routes so a typo fails the build instead of the page.
  const API = {
    shows: "/api/seats/shows",
    seatMap: "/api/seats/", // + showId, and + "/live" for the socket
    hold: "/api/seats/hold-bulk",
    book: "/api/seats/book-bulk",
    release: "/api/seats/release-bulk",
    holds: "/api/holds/", // + token + "/extend"
    sessions: "/api/sessions",
    bookings: "/api/bookings", // + "/" + id + "/cancel"
  };
  const MAX_SEATS = 10; // the server's default limit; the server still enforces its own
  const POLL_MS = 2000;
  const FLASH_MS = 2500;
  const RECONNECT_MS = [250, 500, 1000, 2000, 5000]; // then every 5 s
  const ANNOUNCE_AT = [60, 30, 10]; // seconds left worth telling a screen reader
  const STATE_TEXT = { available: "available", selected: "selected", mine: "held by you", held: "held", booked: "booked", blocked: "not for sale" };

  const $ = (id) => document.getElementById(id);
  const el = {
    user: $("user-id"), showList: $("show-list"), heading: $("hall-heading"), info: $("hall-info"),
    screen: $("screen"), grid: $("seat-grid"), selection: $("selection"), countdown: $("countdown"),
    holdBtn: $("hold-btn"), bookBtn: $("book-btn"), extendBtn: $("extend-btn"), releaseBtn: $("release-btn"),
    status: $("status"), announce: $("announce"), connection: $("connection"), hall: $("hall"),
    bookings: $("booking-list"),
  };

  let session = loadSession(); // {token, userId, expiresAt} of this browser's guest
  let shows = [];
  let current = null; // the open show: {showId, seq, map, byId}
  let hold = loadHold(); // the user's live hold: {token, showId, seatIds, labels, deadline, extensionsLeft}
  let busy = false; // a POST is in flight; a second click does nothing
  let announced = null; // the last countdown mark told to screen readers
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

  // A guest session opened once per browser (API.sessions): its token
  // proves the guest's user id to the server, so its holds stay its own across
  // reloads. One that is about to expire is replaced before it is used.
  function loadSession() {
    try {
      const s = JSON.parse(stored("seatd.session"));
      return s && s.token && Date.parse(s.expiresAt) - Date.now() > 60000 ? s : null;
    } catch { return null; }
  }

  async function ensureSession(renew = false) {
    if (session && !renew) return session;
    const s = await call(API.sessions, { method: "POST" });
    // A new guest is not the holder of the old one's hold.
    if (session && session.userId !== s.userId) setHold(null);
    session = s;
    store("seatd.session", JSON.stringify(s));
    el.user.textContent = s.userId;
    return s;
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
    announced = null;
    store("seatd.hold", h && JSON.stringify(h));
  }

  // call returns the JSON body of a successful answer. A failure throws an
  // Error carrying the RFC 9457 problem (and the status); a server out of reach
  // throws one with offline set.
  async function call(path, init) {
    const res = await fetch(path, init).catch(() => {
      throw Object.assign(new Error("The server cannot be reached."), { problem: {}, offline: true });
    });
    const data = await res.json().catch(() => null);
    if (res.ok) return data;
    const p = data && data.title ? data : { title: `HTTP ${res.status} ${res.statusText}`.trim(), status: res.status };
    throw Object.assign(new Error(p.detail ? `${p.title}: ${p.detail}` : p.title), { problem: p, status: res.status });
  }

  // mine reads what only the guest may see (its bookings), with its token.
  async function mine(path) {
    const s = await ensureSession();
    return call(path, { headers: { Authorization: `Bearer ${s.token}` } });
  }

  // loadBookings lists the guest's bookings, each with a button to cancel it.
  async function loadBookings() {
    if (!session) return;
    let page;
    try {
      page = await mine(API.bookings);
    } catch { return; /* the seat map says when the server is away */ }
    el.bookings.replaceChildren(...(page.bookings.length ? page.bookings.map((b) => {
      const cancel = h("button", { type: "button", className: "cancel", textContent: "Cancel" });
      cancel.setAttribute("aria-label", `Cancel ${b.movieTitle}, seats ${b.seats.map((x) => x.label).join(", ")}`);
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        try {
          await api(`${API.bookings}/${encodeURIComponent(b.bookingId)}/cancel`, {});
          say(`Cancelled ${b.seats.map((x) => x.label).join(", ")} of ${b.movieTitle}.`);
        } catch (e) {
          say(explain(e), true);
        }
        loadBookings();
        loadShows();
        feed.refresh();
      });
      return h("li", {}, h("span", { textContent: `${b.movieTitle}, ${when.format(new Date(b.startsAt))}: ${b.seats.map((x) => x.label).join(", ")}` }), cancel);
    }) : [h("li", { className: "muted", textContent: "None yet." })]));
  }

  // api reads (no body) or changes (a body, POSTed with a fresh Idempotency-Key
  // and the guest's token). A token the server no longer takes (expired, or
  // its secret changed) is replaced by a new session, and the change sent once
  // more.
  async function api(path, body) {
    if (body === undefined) return call(path, {});
    const init = (s) => ({
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": uuid(), Authorization: `Bearer ${s.token}` },
      body: JSON.stringify(body),
    });
    try {
      return await call(path, init(await ensureSession()));
    } catch (e) {
      if (e.status !== 401) throw e;
      return call(path, init(await ensureSession(true)));
    }
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

  // tell is for screen readers only: a polite live region, updated rarely.
  function tell(message) {
    el.announce.textContent = message;
  }

  const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  async function loadShows() {
    try {
      shows = await api(API.shows);
    } catch (e) {
      if (e.offline) return setConnection("offline");
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
    feed.stop();
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
    feed.start(id);
  }

  // setConnection shows how the page hears of changes: live, polling (the
  // socket cannot open), or offline (the server cannot be reached).
  function setConnection(state) {
    const text = {
      live: "",
      polling: "Live updates are not available here; the seat map refreshes every 2 seconds.",
      offline: "Offline: the server cannot be reached. Reconnecting…",
    }[state];
    el.connection.textContent = text;
    el.connection.hidden = !text;
    el.connection.className = "connection " + state;
    el.hall.classList.toggle("offline", state === "offline");
  }

  // feed keeps the open show's seat map current: over the live socket, which
  // resumes with sinceSeq after a drop, or by polling where no socket opens.
  const feed = {
    showId: null, socket: null, timer: 0, attempt: 0, polling: false, opened: false,

    start(showId) {
      this.showId = showId;
      this.attempt = 0;
      this.polling = false;
      this.connect();
    },

    stop() {
      this.showId = null;
      clearTimeout(this.timer);
      if (this.socket) {
        this.socket.onclose = null;
        this.socket.close();
        this.socket = null;
      }
    },

    connect() {
      const showId = this.showId;
      if (!showId) return;
      if (this.polling) return this.poll();
      const since = current?.showId === showId && current.seq >= 0 ? `?sinceSeq=${current.seq}` : "";
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      let ws;
      try {
        ws = new WebSocket(`${scheme}//${location.host}${API.seatMap}${encodeURIComponent(showId)}/live${since}`);
      } catch {
        return this.fallBack();
      }
      this.socket = ws;
      this.opened = false;
      ws.onopen = () => {
        this.opened = true;
        this.attempt = 0;
        setConnection("live");
      };
      ws.onmessage = (m) => {
        if (showId !== this.showId) return;
        const f = JSON.parse(m.data);
        if (f.type === "snapshot") applySeatMap({ showId: f.showId, seq: f.seq, seats: f.seats });
        else if (f.type === "events") applyEvents(f.events);
      };
      ws.onclose = () => {
        if (this.socket !== ws || showId !== this.showId) return;
        this.socket = null;
        // A socket that never opened twice in a row: this network or proxy
        // does not pass WebSockets; the seat map is polled instead.
        if (!this.opened && this.attempt >= 1) return this.fallBack();
        this.retry();
      };
    },

    // retry reconnects after a pause that grows, and finds out meanwhile
    // whether the server is there at all.
    retry() {
      const wait = RECONNECT_MS[Math.min(this.attempt++, RECONNECT_MS.length - 1)];
      fetch(API.shows, { method: "HEAD" }).then(() => setConnection("live"), () => setConnection("offline"));
      this.timer = setTimeout(() => this.connect(), wait);
    },

    fallBack() {
      this.polling = true;
      setConnection("polling");
      this.poll();
    },

    // poll fetches the seat map and schedules the next fetch: a chain of
    // timeouts, not setInterval, so slow answers never pile up; hidden tabs
    // skip the fetch.
    async poll() {
      const showId = this.showId;
      if (!showId) return;
      if (!document.hidden) {
        try {
          applySeatMap(await api(API.seatMap + encodeURIComponent(showId)));
          setConnection("polling");
        } catch (e) {
          if (e.offline) setConnection("offline");
          else say(e.message, true);
        }
      }
      if (showId === this.showId) this.timer = setTimeout(() => this.poll(), POLL_MS);
    },

    // refresh reads the seat map once, where the socket does not bring changes.
    refresh() {
      if (this.polling) {
        clearTimeout(this.timer);
        this.poll();
      }
    },
  };

  // applyEvents applies a show's events in seq order. A gap means a frame was
  // missed: the socket reconnects from the last seq it has.
  function applyEvents(events) {
    if (!current?.map) return;
    for (const e of events) {
      if (e.seq <= current.seq) continue;
      if (e.seq !== current.seq + 1) {
        feed.socket?.close();
        return;
      }
      const seat = current.byId.get(e.seatId);
      if (seat) seat.status = e.status;
      current.seq = e.seq;
    }
    applySeatMap({ showId: current.showId, seq: current.seq, seats: current.map.seats });
  }

  // applySeatMap is the single place the seat grid is updated: snapshots,
  // events (which update the seat objects, then call it) and polls all end
  // here. It builds the buttons once per show and afterwards only updates
  // them, so keyboard focus survives every change.
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
      b.setAttribute("aria-label", `Row ${seat.row} seat ${seat.number}, ${STATE_TEXT[state] || seat.status}, ${seat.category}${seat.accessible ? ", wheelchair accessible" : ""}`);
    }
    if (lost.length) say(`Taken by someone else meanwhile: ${lost.join(", ")}.`, true);
    const count = counts.get(map.showId);
    if (count) count.textContent = `${free} / ${map.seats.length} seats free`;
    renderActions();
  }

  // The seat map says only "held"; the hold response says which of those are ours.
  function isMine(seat) {
    return !!hold && hold.showId === current.showId && hold.seatIds.includes(seat.id) && seat.status === "held";
  }

  function buildGrid(seats) {
    const rows = [...new Set(seats.map((s) => s.row))].sort((a, b) => a.length - b.length || a.localeCompare(b));
    // x is the seat's column counting aisle gaps (older servers: its number).
    const col = (s) => s.x || s.number;
    const cols = Math.max(...seats.map(col));
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
      b.dataset.pos = `${r},${col(seat)}`;
      b.style.gridArea = `${r + 1} / ${col(seat) + 1}`;
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

  // Buttons that cannot act now are aria-disabled rather than disabled: a
  // disabled button drops keyboard focus to the page, and the user loses
  // their place after every click.
  function enable(button, on) {
    button.setAttribute("aria-disabled", String(!on));
  }
  function enabled(button) {
    return button.getAttribute("aria-disabled") !== "true";
  }

  function renderActions() {
    el.selection.textContent = hold ? `Holding ${hold.labels}.`
      : selected.size ? `Selected ${selected.size}: ${labels([...selected])}.` : "No seats selected.";
    enable(el.holdBtn, !busy && !hold && selected.size > 0);
    enable(el.bookBtn, !busy && !!hold);
    enable(el.releaseBtn, !busy && !!hold);
    enable(el.extendBtn, !busy && !!hold && hold.extensionsLeft > 0);
    el.extendBtn.textContent = hold && hold.extensionsLeft > 0 ? `Extend (${hold.extensionsLeft} left)` : "Extend";
  }

  function tick() {
    el.countdown.hidden = !hold;
    if (!hold) return;
    const left = Math.max(0, Math.ceil((hold.deadline - Date.now()) / 1000));
    el.countdown.textContent = `Hold expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    el.countdown.classList.toggle("urgent", left <= 10);
    // Screen readers hear the countdown at a few marks, not every second.
    const mark = ANNOUNCE_AT.find((m) => left <= m && left > m - 5);
    if (mark && announced !== mark && left > 0) {
      announced = mark;
      tell(`Your hold of ${hold.labels} expires in ${left} seconds.`);
    }
    if (left === 0) {
      setHold(null);
      say("Your hold expired; those seats are back on sale.", true);
      tell("Your hold expired.");
      renderActions();
      feed.refresh();
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

  // explain says what a failed request means, once, in the user's words: the
  // problem's type is known, so its seats are named by label.
  function explain(e) {
    const p = e.problem || {};
    if (p.type === "/problems/seats-unavailable" && p.conflictingSeatIds) return `Not available any more: ${labels(p.conflictingSeatIds)}.`;
    if (p.type === "/problems/hold-expired") return "Your hold expired before that; hold the seats again if they are still free.";
    if (p.type === "/problems/limit-reached") return "This hold cannot be extended any more.";
    if (e.offline) return "The server cannot be reached; nothing was changed. Try again in a moment.";
    if (p.status === 503) return "The server is busy or restarting; nothing is lost. Try again in a moment.";
    return e.message;
  }

  // act runs one POST at a time and reports its failure. focusAfter is where
  // the keyboard goes once it succeeded (the status line if unset), so that
  // focus never falls back to the page.
  async function act(button, fn, ofHold, focusAfter) {
    if (busy || !enabled(button)) return;
    busy = true;
    renderActions();
    let ok = false;
    try {
      await fn();
      ok = true;
    } catch (e) {
      const p = e.problem || {};
      const named = [...(p.conflictingSeatIds || []), ...(p.expiredSeatIds || []), ...(p.unknownSeatIds || [])];
      named.forEach((id) => selected.delete(id));
      // A 409 or 410 on book, release or extend means the hold is no longer
      // wholly the user's: it is dropped and the map shows what is left.
      if (ofHold && (p.status === 409 || p.status === 410) && p.type !== "/problems/limit-reached") setHold(null);
      say(explain(e), true);
      if (e.offline) setConnection("offline");
      flash(named);
    } finally {
      busy = false;
      // The hold's seats may have come over the socket before its answer:
      // they are redrawn as the user's (or no longer) now.
      if (current?.map) applySeatMap(current.map);
      else renderActions();
      loadShows();
      feed.refresh();
    }
    (ok && focusAfter ? focusAfter() : el.status).focus();
  }

  // A hold counts down on this browser's clock, which may disagree with the
  // server's: the earlier of expiresAt and send time + TTL never promises time
  // the hold lacks.
  function deadlineOf(r, sent, ttlSeconds) {
    return Math.min(Date.parse(r.expiresAt), sent + ttlSeconds * 1000);
  }

  el.holdBtn.addEventListener("click", () => act(el.holdBtn, async () => {
    const seatIds = [...selected];
    const sent = Date.now();
    const r = await api(API.hold, { seatIds });
    setHold({ token: r.holdToken, showId: r.showId, seatIds: r.seatIds, labels: labels(r.seatIds),
      deadline: deadlineOf(r, sent, r.ttlSeconds), ttlSeconds: r.ttlSeconds, extensionsLeft: r.extensionsLeft });
    selected.clear();
    say(`Held ${hold.labels}. Book before the countdown ends.`);
    tell(`Held ${hold.labels} for ${Math.round(r.ttlSeconds)} seconds.`);
  }, false, () => el.bookBtn));

  // Book, extend and release keep their own reference: the countdown may drop
  // the hold while the request is on its way.
  el.bookBtn.addEventListener("click", () => act(el.bookBtn, async (held = hold) => {
    const r = await api(API.book, { seatIds: held.seatIds, holdToken: held.token });
    say(`Booked ${held.labels}. Your confirmation: ${r.bookingId.slice(0, 8).toUpperCase()}.`);
    setHold(null);
    loadBookings();
  }, true));

  el.extendBtn.addEventListener("click", () => act(el.extendBtn, async (held = hold) => {
    const r = await api(API.holds + encodeURIComponent(held.token) + "/extend", {});
    // The new expiry, bounded as the hold's own was: never later on this clock
    // than the old bound plus one TTL.
    setHold({ ...held, deadline: Math.min(Date.parse(r.expiresAt), held.deadline + held.ttlSeconds * 1000), extensionsLeft: r.extensionsLeft });
    say(`Extended your hold of ${held.labels}.`);
  }, true, () => el.bookBtn));

  el.releaseBtn.addEventListener("click", () => act(el.releaseBtn, async (held = hold) => {
    await api(API.release, { seatIds: held.seatIds, holdToken: held.token });
    say(`Released ${held.labels}.`);
    setHold(null);
  }, true));

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) feed.refresh();
  });

  if (session) {
    el.user.textContent = session.userId;
    loadBookings();
  }
  else ensureSession().catch(() => { /* opened on the first change, or said then */ });
  setInterval(tick, 250);
  tick();
  renderActions();
  loadShows().then(() => {
    const id = decodeURIComponent(location.hash.slice(1)) || hold?.showId;
    if (shows.some((s) => s.id === id)) openShow(id);
  });
})();
