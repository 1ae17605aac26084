// The seed's storm for k6 users: VUS buyers (default 500), released together,
// each hold 1–2 random seats of the same SEATS real seats (default 10) of one show
// with a fresh Idempotency-Key and book them if the hold succeeded. A 409 is the
// expected answer for a loser.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e SEATS=10 -e VUS=500 loadtest/k6/hold_and_book.js
//
// seatd lets only a caller with a bearer token change seats. Each VU first opens
// a guest session (POST /api/sessions: a new user and its token), then waits for
// the common start, SESSION_WINDOW seconds (default 10) after setup, so that the
// buyers still hit seatd together; its hold and book carry the token, and the
// session's userId in the body. seatd opens SEATD_RATE_SESSIONS guest sessions
// per client address (1000 an hour by default): one run of 500 VUs fits, two in
// the same hour from one address do not. A 429 on a session is retried after its
// Retry-After, a few times; a VU without a session fails its check and buys
// nothing.
//
// Oversell checks, and their limits. k6 cannot gather what each VU was told into
// one place that teardown() can read, so this script checks what k6 can:
//   - thresholds on the seat_sales counter, tagged with the index of each seat:
//     no seat may be sold (answered 200 on book-bulk) more than once, and the
//     seats sold add up to at most SEATS;
//   - teardown() reads the seat map again and checks that at most SEATS of the
//     chosen seats are booked, and reports how many are.
// It cannot prove that the booked seats are exactly those whose buyers were told
// they won (no sale missing, none unannounced): `go run ./cmd/seatload storm`
// checks that, seat by seat, and also fails on 5xx and transport errors.

import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter } from 'k6/metrics';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const SEATS = parseInt(__ENV.SEATS || '10', 10);
const VUS = parseInt(__ENV.VUS || '500', 10);
const SESSION_WINDOW = parseFloat(__ENV.SESSION_WINDOW || '10');
// SESSION_RETRIES bounds the retries of a session answered 429 (or 503).
const SESSION_RETRIES = 3;

// seat_sales counts the seats buyers were told they booked, tagged with the
// seat's index among the chosen seats (known at init time, unlike seat ids, so
// that options can set a threshold per seat).
const seatSales = new Counter('seat_sales');
const holdsRefused = new Counter('holds_refused');
// late_buyers counts the VUs whose session came after the common start.
const lateBuyers = new Counter('late_buyers');

const thresholds = {
  // Every check passed: sessions opened, holds answered 200 or 409, bookings of
  // won holds 200 (a 401, 403 or 429 fails them).
  checks: ['rate==1'],
  // With the response callback below, a 409 is not a failed request; a 401,
  // 403, 429 or 5xx is (but a session's 429 or 503, which is retried).
  http_req_failed: ['rate==0'],
  seat_sales: [`count<=${SEATS}`],
};
for (let i = 0; i < SEATS; i++) {
  thresholds[`seat_sales{seat:${i}}`] = ['count<=1'];
}

export const options = {
  scenarios: {
    storm: { executor: 'per-vu-iterations', vus: VUS, iterations: 1, maxDuration: '2m' },
  },
  thresholds,
};

// 201 (a session) and 409 (seats taken) are answers, not errors.
http.setResponseCallback(http.expectedStatuses(200, 201, 409));

const JSON_HEADERS = { 'Content-Type': 'application/json' };

// uuid returns a fresh random UUID for an Idempotency-Key: k6's Web Crypto when
// it has one, else Math.random (a key need only be unique, not secret).
function uuid() {
  if (typeof crypto !== 'undefined' && typeof crypto.randomUUID === 'function') {
    return crypto.randomUUID();
  }
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = Math.floor(Math.random() * 16);
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

// post sends body as JSON with the session's bearer token and a fresh
// Idempotency-Key.
function post(path, session, body, name) {
  return http.post(`${BASE_URL}${path}`, JSON.stringify(body), {
    headers: Object.assign({ Authorization: `Bearer ${session.token}`, 'Idempotency-Key': uuid() }, JSON_HEADERS),
    tags: { name },
  });
}

// openSession opens a guest session: no body and no Idempotency-Key, as seatd
// asks (a retry just makes another guest). It returns { token, userId }, or
// null when seatd would not open one.
function openSession() {
  for (let attempt = 0; ; attempt++) {
    const res = http.post(`${BASE_URL}/api/sessions`, null, {
      tags: { name: 'session' },
      responseCallback: http.expectedStatuses(201, 429, 503),
    });
    if (res.status === 201) {
      const s = res.json();
      return s.token && s.userId ? { token: s.token, userId: s.userId } : null;
    }
    if ((res.status !== 429 && res.status !== 503) || attempt === SESSION_RETRIES) {
      console.error(`POST /api/sessions: ${res.status} ${res.body}`);
      return null;
    }
    const wait = parseInt(res.headers['Retry-After'] || '1', 10);
    sleep(Number.isNaN(wait) ? 1 : Math.min(wait, 10));
  }
}

// setup picks the first SEATS available seats of the first show that has that
// many: real seat ids, read from the seat map.
export function setup() {
  const res = http.get(`${BASE_URL}/api/seats/shows`, { tags: { name: 'shows' } });
  if (res.status !== 200) {
    fail(`GET /api/seats/shows: ${res.status} ${res.body}`);
  }
  const show = res.json().find((s) => s.seatsAvailable >= SEATS);
  if (!show) {
    fail(`no show has ${SEATS} available seats; start seatd on a fresh database`);
  }
  const map = http.get(`${BASE_URL}/api/seats/${show.id}`, { tags: { name: 'seatmap' } });
  if (map.status !== 200) {
    fail(`GET /api/seats/${show.id}: ${map.status} ${map.body}`);
  }
  const seats = map.json().seats.filter((s) => s.status === 'available').slice(0, SEATS).map((s) => s.id);
  if (seats.length < SEATS) {
    fail(`show ${show.id} has only ${seats.length} available seats, want ${SEATS}`);
  }
  // The buyers' common start: after every VU has had time to open its session.
  return { showId: show.id, seats, startAt: Date.now() + SESSION_WINDOW * 1000 };
}

// pick returns the indexes of n distinct random seats.
function pick(count, n) {
  const out = [];
  while (out.length < n) {
    const i = Math.floor(Math.random() * count);
    if (!out.includes(i)) {
      out.push(i);
    }
  }
  return out;
}

export default function (data) {
  const session = openSession();
  if (!check(session, { 'guest session opened': (s) => s !== null })) {
    return;
  }
  const mine = pick(data.seats.length, 1 + Math.floor(Math.random() * Math.min(2, data.seats.length)));
  const seatIds = mine.map((i) => data.seats[i]);
  const userId = session.userId;
  const wait = data.startAt - Date.now();
  if (wait > 0) {
    sleep(wait / 1000);
  } else {
    lateBuyers.add(1);
  }

  const hold = post('/api/seats/hold-bulk', session, { seatIds, userId }, 'hold');
  check(hold, { 'hold answered 200 or 409': (r) => r.status === 200 || r.status === 409 });
  if (hold.status !== 200) {
    if (hold.status === 409) {
      holdsRefused.add(1);
    }
    return;
  }
  const book = post('/api/seats/book-bulk', session, { seatIds, userId, holdToken: hold.json('holdToken') }, 'book');
  check(book, { 'book of a won hold answered 200': (r) => r.status === 200 });
  if (book.status === 200) {
    for (const i of mine) {
      seatSales.add(1, { seat: String(i) });
    }
  }
}

// teardown reads the seat map again: at most SEATS of the chosen seats may be
// booked (see the limits above).
export function teardown(data) {
  const res = http.get(`${BASE_URL}/api/seats/${data.showId}`, { tags: { name: 'seatmap' } });
  if (res.status !== 200) {
    fail(`GET /api/seats/${data.showId}: ${res.status} ${res.body}`);
  }
  const chosen = new Set(data.seats);
  const booked = res.json().seats.filter((s) => chosen.has(s.id) && s.status === 'booked').length;
  console.log(`${booked} of the ${data.seats.length} chosen seats are booked; for the seat-by-seat check run: go run ./cmd/seatload storm`);
  const ok = check(booked, { 'booked seats ≤ chosen seats': (n) => n <= data.seats.length });
  if (!ok) {
    fail(`${booked} seats booked among ${data.seats.length}`);
  }
}
