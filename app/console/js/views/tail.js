// Tail: follow a query live. Pausing keeps the stream and holds what arrives (up to a bound;
// past it the stream is closed and opened again after the last event on resume), so nothing is
// lost; drops and resumptions are logged.
import { follow, get } from "../api.js";
import { clear, h } from "../dom.js";
import { failed, go } from "../main.js";
import { eventRow, eventTable } from "./events.js";
import { itemEditor, queryFrom, queryParams, streamParams } from "./query.js";

const HELD = 10_000;
const SHOWN = 500;

export function tail(main, { params }) {
  const query = queryFrom(params);
  const from = params.get("after");
  const editor = itemEditor(query);
  const form = h(
    "form",
    { className: "builder", onsubmit: (event) => {
      event.preventDefault();
      const next = queryParams(editor.query());
      const start = new FormData(form).get("after");
      if (start) next.set("after", start);
      go("tail", next);
    } },
    editor.element,
    h("div", { className: "row" },
      h("label", {}, "from position (empty: from now)",
        h("input", { type: "number", name: "after", min: 0, value: from ?? "" })),
      h("button", { type: "submit" }, "Follow")),
  );
  const dot = h("span", { className: "dot" });
  const state = h("span", { id: "tail-state" }, "connecting");
  const pause = h("button", { type: "button", id: "tail-pause", className: "quiet" }, "Pause");
  const log = h("ul", { className: "log", id: "tail-log" });
  const table = eventTable("tail-events");
  clear(main, h("h1", {}, "Tail"), form,
    h("p", { className: "status" }, dot, state, pause), log, table.element);

  let held = [];
  let paused = false;
  let stream = null;
  let last = null;
  let everLive = false;

  const note = (text) => log.prepend(h("li", {}, `${new Date().toLocaleTimeString()}: ${text}`));
  const show = (event) => {
    table.body.prepend(eventRow(event));
    while (table.body.childElementCount > SHOWN) table.body.lastElementChild.remove();
  };
  const handlers = {
    onEvent(event) {
      last = event.position;
      if (paused) {
        held.push(event);
        if (held.length >= HELD && stream) {
          stream.close();
          stream = null;
          note(`paused with ${held.length} events held: the stream closes, and resumes after ${last}`);
        }
        return;
      }
      show(event);
    },
    onStatus(status) {
      if (status === "live") {
        dot.className = "dot live";
        state.textContent = paused ? "live (paused)" : "live";
        note(everLive ? `resumed after position ${last ?? "the start"}` : "connected");
        everLive = true;
      } else if (status === "dropped") {
        if (state.textContent.startsWith("dropped")) return;
        dot.className = "dot down";
        state.textContent = "dropped: reconnecting";
        note(`connection dropped after position ${last ?? "the start"}`);
      }
    },
  };

  async function start(after) {
    let begin = after;
    if (begin === null) begin = (await get("/v1/head")).head;
    last = begin;
    stream = follow(streamParams(query), begin, handlers);
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      held.forEach(show);
      held = [];
      if (!stream) start(last).catch((error) => note(`cannot resume: ${error.message}`));
      state.textContent = state.textContent.replace(" (paused)", "");
    } else {
      state.textContent += " (paused)";
    }
  });

  start(from === null || from === "" ? null : Number.parseInt(from, 10)).catch(failed);
  return () => {
    if (stream) stream.close();
  };
}
