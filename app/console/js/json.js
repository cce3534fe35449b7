// JSON as a readable, collapsible tree: objects and arrays fold, scalars are coloured by kind.
// Built from text nodes only (see dom.js).
import { h } from "./dom.js";

const OPEN_DEPTH = 2;

export function jsonView(value, depth = 0) {
  if (value === null || typeof value !== "object") return scalar(value);
  const entries = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return h("span", { className: "json-literal" }, open + close);
  const noun = Array.isArray(value) ? "item" : "key";
  const summary = `${open} ${entries.length} ${noun}${entries.length === 1 ? "" : "s"} ${close}`;
  return h(
    "details",
    { className: "json", open: depth < OPEN_DEPTH },
    h("summary", {}, summary),
    entries.map(([key, item]) =>
      h(
        "div",
        { className: "json-node" },
        Array.isArray(value) ? null : [h("span", { className: "json-key" }, JSON.stringify(key)), ": "],
        jsonView(item, depth + 1),
      ),
    ),
  );
}

function scalar(value) {
  if (typeof value === "string") return h("span", { className: "json-string" }, JSON.stringify(value));
  if (typeof value === "number") return h("span", { className: "json-number" }, String(value));
  return h("span", { className: "json-literal" }, String(value));
}

export function jsonBlock(value) {
  return h("div", { className: "json" }, jsonView(value));
}
