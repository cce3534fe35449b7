// The query builder shared by Browse and Tail: items of types and tags, read from and written to
// the URL, so that a query can be shared and bookmarked.
import { h } from "../dom.js";

const split = (text) =>
  text.split(",").map((value) => value.trim()).filter((value) => value.length > 0);

// The query in the URL: `query` holds it as JSON, exactly (a tag may hold any character). No
// query: every event.
export function queryFrom(params) {
  try {
    const parsed = JSON.parse(params.get("query") || '{"items": []}');
    const items = Array.isArray(parsed.items) ? parsed.items : [];
    return {
      items: items.map((item) => ({
        types: Array.isArray(item.types) ? item.types.map(String) : [],
        tags: Array.isArray(item.tags) ? item.tags.map(String) : [],
      })).filter((item) => item.types.length || item.tags.length),
    };
  } catch {
    return { items: [] };
  }
}

export function queryParams(query, params = new URLSearchParams()) {
  if (query.items.length) params.set("query", JSON.stringify(query));
  else params.delete("query");
  return params;
}

// The form's items: rows of two inputs, one added with "+ item", each removable.
export function itemEditor(query) {
  const list = h("div", { className: "items" });
  const row = (item = { types: [], tags: [] }) => {
    const element = h(
      "div",
      { className: "item" },
      h("label", {}, "types (any of, comma-separated)",
        h("input", { type: "text", name: "types", value: item.types.join(", "),
          placeholder: "CourseDefined, StudentSubscribed" })),
      h("label", {}, "tags (all of)",
        h("input", { type: "text", name: "tags", value: item.tags.join(", "), placeholder: "course:c1" })),
      h("button", { type: "button", className: "quiet", onclick: () => element.remove(),
        ariaLabel: "remove this item" }, "remove"),
    );
    list.append(element);
  };
  (query.items.length ? query.items : [undefined]).forEach(row);
  const editor = h(
    "fieldset",
    { className: "builder-items" },
    h("legend", {}, "Events matching any item (none: every event)"),
    list,
    h("button", { type: "button", className: "quiet", onclick: () => row() }, "+ item"),
  );
  return {
    element: editor,
    query() {
      return {
        items: [...list.querySelectorAll(".item")].map((item) => ({
          types: split(item.querySelector('[name="types"]').value),
          tags: split(item.querySelector('[name="tags"]').value),
        })).filter((item) => item.types.length || item.tags.length),
      };
    },
  };
}

// The stream's parameters for a query: type/tag for one item, `query` for several.
export function streamParams(query) {
  const params = new URLSearchParams();
  if (query.items.length === 1) {
    for (const type of query.items[0].types) params.append("type", type);
    for (const tag of query.items[0].tags) params.append("tag", tag);
  } else if (query.items.length > 1) {
    params.set("query", JSON.stringify(query));
  }
  return params;
}
