// Browse: a query, a range and a direction; a page of events at a time, paged with the read's
// marker (forwards) or below the last event (backwards). Everything is in the URL.
import { read } from "../api.js";
import { clear, h, number } from "../dom.js";
import { failed, go } from "../main.js";
import { eventRow, eventTable } from "./events.js";
import { itemEditor, queryFrom, queryParams } from "./query.js";

const PAGE = 50;

function integer(params, name) {
  const value = params.get(name);
  return value === null || value === "" ? null : Number.parseInt(value, 10);
}

export function browse(main, { params }) {
  const query = queryFrom(params);
  const after = integer(params, "after") ?? 0;
  const before = integer(params, "before");
  const limit = integer(params, "limit") ?? PAGE;
  const backwards = params.get("backwards") === "true";
  const editor = itemEditor(query);
  const field = (label, name, value) =>
    h("label", {}, label, h("input", { type: "number", name, min: 0, value: value ?? "",
      inputMode: "numeric" }));
  const form = h(
    "form",
    { className: "builder", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const next = queryParams(editor.query());
      for (const name of ["after", "before", "limit"]) if (data.get(name)) next.set(name, data.get(name));
      if (data.get("direction") === "backwards") next.set("backwards", "true");
      go("browse", next);
    } },
    editor.element,
    h("div", { className: "row" },
      field("after position", "after", after || ""),
      field("before position", "before", before),
      field("page size", "limit", limit),
      h("label", {}, "direction", h("select", { name: "direction" },
        h("option", { value: "forwards", selected: !backwards }, "oldest first"),
        h("option", { value: "backwards", selected: backwards }, "newest first"))),
      h("button", { type: "submit" }, "Read")),
  );
  const summary = h("p", { className: "muted", id: "browse-summary" });
  const table = eventTable("browse-events");
  const pager = h("div", { className: "row" });
  clear(main, h("h1", {}, "Browse"), form, summary, table.element, pager);

  (async () => {
    try {
      const body = { query, after, limit, backwards };
      if (before !== null) body.before = before;
      const page = await read(body);
      clear(table.body, page.events.map(eventRow));
      const range = page.events.length
        ? `positions ${page.events[0].position} to ${page.events[page.events.length - 1].position}`
        : "no events";
      clear(summary, `${page.events.length} events (${range}); head ${number(page.head)}; ` +
        `marker ${number(page.marker)}`);
      if (page.has_more) {
        const next = queryParams(query);
        next.set("limit", String(limit));
        if (backwards) {
          next.set("backwards", "true");
          next.set("before", String(page.events[page.events.length - 1].position));
        } else {
          next.set("after", String(page.marker));
          if (before !== null) next.set("before", String(before));
        }
        pager.append(h("button", { type: "button", id: "next-page", onclick: () => go("browse", next) },
          "Next page"));
      }
      if (after || (backwards && before !== null)) {
        const first = queryParams(query);
        first.set("limit", String(limit));
        if (backwards) first.set("backwards", "true");
        pager.append(h("button", { type: "button", className: "quiet", onclick: () => go("browse", first) },
          "First page"));
      }
    } catch (error) {
      clear(summary, "");
      failed(error);
    }
  })();
}
