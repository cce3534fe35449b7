// A table of events, shared by Browse and Tail: position, type, tags, time, and the data and
// metadata as collapsible JSON.
import { h, tags, time } from "../dom.js";
import { jsonView } from "../json.js";

export function eventTable(id) {
  const body = h("tbody");
  const table = h(
    "table",
    { id },
    h("thead", {}, h("tr", {},
      h("th", { className: "num" }, "position"),
      h("th", {}, "type"),
      h("th", {}, "tags"),
      h("th", {}, "data"),
      h("th", { className: "hide-narrow" }, "metadata"),
      h("th", { className: "hide-narrow" }, "recorded"))),
    body,
  );
  return { element: h("div", { className: "table-wrap" }, table), body };
}

export function eventRow(event) {
  return h(
    "tr",
    { dataset: { position: event.position } },
    h("td", { className: "num" }, event.position),
    h("td", {}, event.type),
    h("td", {}, tags(event.tags)),
    h("td", {}, jsonView(event.data, 1)),
    h("td", { className: "hide-narrow" }, jsonView(event.metadata, 1)),
    h("td", { className: "hide-narrow" }, time(event.recorded_at)),
  );
}
