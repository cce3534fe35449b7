// The service's API, as the console uses it: same origin, a bearer token when the service asks
// for one (kept in this tab's session storage only), problems as errors, and streams through a
// stream ticket (EventSource cannot send headers).

const TOKEN_KEY = "eventstore.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const bearer = token();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = response.status === 204 ? "" : await response.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);

export function read(body) {
  return post("/v1/events/query", body);
}

export function segment(value) {
  return encodeURIComponent(value);
}

// Follow the stream of `params` (URLSearchParams without `after`) from `after` on. Calls
// onEvent(event) for each event, in order, once; onStatus("live" | "dropped" | "closed").
// EventSource reconnects by itself with Last-Event-ID; when it gives up (the ticket expired, the
// service refused), the stream is opened again after the last event, with a new ticket.
export function follow(params, after, { onEvent, onStatus }) {
  let source = null;
  let last = after;
  let stopped = false;
  let retry = null;

  async function open() {
    if (stopped) return;
    let ticket;
    try {
      ticket = (await post("/v1/stream-tickets")).ticket;
    } catch (error) {
      onStatus("dropped", error);
      retry = setTimeout(open, 2000);
      return;
    }
    if (stopped) return;
    const query = new URLSearchParams(params);
    query.set("after", String(last));
    query.set("ticket", ticket);
    source = new EventSource(`/v1/events/stream?${query}`);
    source.onopen = () => onStatus("live");
    source.onmessage = (message) => {
      const position = Number(message.lastEventId);
      if (position <= last) return; // never twice
      last = position;
      onEvent(JSON.parse(message.data));
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        source = null;
        onStatus("dropped");
        retry = setTimeout(open, 1000);
      } else {
        onStatus("dropped");
      }
    };
  }

  open();
  return {
    get last() {
      return last;
    },
    close() {
      stopped = true;
      clearTimeout(retry);
      if (source) source.close();
      onStatus("closed");
    },
  };
}
