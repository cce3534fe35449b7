// Types and tags: every type with its count and positions; tags with counts, by prefix and by
// type, a page at a time; one type's schema.
import { ApiError, get, segment } from "../api.js";
import { clear, h, number } from "../dom.js";
import { jsonBlock } from "../json.js";
import { failed, go } from "../main.js";

const TAG_PAGE = 100;

export function types(main, { rest, params }) {
  if (rest.length) return oneType(main, rest.join("/"));
  const typeRows = h("tbody");
  const prefix = params.get("prefix") ?? "";
  const onlyType = params.get("type") ?? "";
  const tagRows = h("tbody");
  const more = h("div", { className: "row" });
  const search = h(
    "form",
    { className: "row", role: "search", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(search);
      const next = new URLSearchParams();
      if (data.get("prefix")) next.set("prefix", data.get("prefix"));
      if (data.get("type")) next.set("type", data.get("type"));
      go("types", next);
    } },
    h("label", {}, "tags starting with", h("input", { type: "search", name: "prefix", value: prefix,
      placeholder: "course:" })),
    h("label", {}, "on events of type", h("input", { type: "text", name: "type", value: onlyType,
      placeholder: "any" })),
    h("button", { type: "submit" }, "Search"),
  );
  clear(
    main,
    h("h1", {}, "Types and tags"),
    h("div", { className: "columns" },
      h("section", {}, h("h2", {}, "Event types"),
        h("div", { className: "table-wrap" }, h("table", { id: "types-table" },
          h("thead", {}, h("tr", {}, h("th", {}, "type"), h("th", { className: "num" }, "events"),
            h("th", { className: "num hide-narrow" }, "first"),
            h("th", { className: "num hide-narrow" }, "last"), h("th", {}, "schema"))),
          typeRows))),
      h("section", {}, h("h2", {}, "Tags"), search,
        h("div", { className: "table-wrap" }, h("table", { id: "tags-table" },
          h("thead", {}, h("tr", {}, h("th", {}, "tag"), h("th", { className: "num" }, "events"))),
          tagRows)),
        more)),
  );

  async function tagPage(after) {
    const query = new URLSearchParams({ limit: String(TAG_PAGE) });
    if (prefix) query.set("prefix", prefix);
    if (onlyType) query.set("type", onlyType);
    if (after) query.set("after", after);
    const page = await get(`/v1/tags?${query}`);
    tagRows.append(...page.tags.map((t) => h("tr", {},
      h("td", {}, h("a", { href: `#/browse?${new URLSearchParams({
        query: JSON.stringify({ items: [{ types: onlyType ? [onlyType] : [], tags: [t.tag] }] }),
      })}` }, h("span", { className: "tag" }, t.tag))),
      h("td", { className: "num" }, number(t.count)))));
    clear(more);
    if (page.has_more) {
      const last = page.tags[page.tags.length - 1].tag;
      more.append(h("button", { type: "button", className: "quiet", id: "more-tags",
        onclick: () => tagPage(last).catch(failed) }, "More tags"));
    }
  }

  (async () => {
    try {
      const list = (await get("/v1/event-types")).event_types;
      clear(typeRows, list.map((t) => h("tr", {},
        h("td", {}, h("a", { href: `#/types/${encodeURIComponent(t.type)}` }, t.type)),
        h("td", { className: "num" }, number(t.count)),
        h("td", { className: "num hide-narrow" }, number(t.first_position)),
        h("td", { className: "num hide-narrow" }, number(t.last_position)),
        h("td", {}, t.has_schema ? "yes" : ""))));
      await tagPage(null);
    } catch (error) {
      failed(error);
    }
  })();
  return undefined;
}

function oneType(main, name) {
  const info = h("p", { className: "muted" }, "…");
  const schema = h("div", { id: "type-schema" }, "…");
  const browseLink = `#/browse?${new URLSearchParams({
    query: JSON.stringify({ items: [{ types: [name], tags: [] }] }),
  })}`;
  clear(
    main,
    h("h1", {}, "Event type ", h("code", {}, name)),
    info,
    h("p", {}, h("a", { href: browseLink }, "Browse its events"), " · ",
      h("a", { href: `#/types?${new URLSearchParams({ type: name })}` }, "Its tags")),
    h("h2", {}, "Schema of its data"),
    schema,
  );
  (async () => {
    try {
      const found = (await get("/v1/event-types")).event_types.find((t) => t.type === name);
      clear(info, found
        ? `${number(found.count)} events, positions ${number(found.first_position)} to ` +
          `${number(found.last_position)}`
        : "No event of this type is stored.");
      try {
        const registered = await get(`/v1/event-types/${segment(name)}/schema`);
        clear(schema, h("p", { className: "muted" }, `registered ${registered.registered_at}`),
          jsonBlock(registered.schema));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 404) throw error;
        clear(schema, h("p", { className: "muted" }, "No schema is registered: any data is accepted."));
      }
    } catch (error) {
      failed(error);
    }
  })();
  return undefined;
}
