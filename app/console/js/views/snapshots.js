// Snapshots: look one up by name and key (in the URL, to be shared).
import { ApiError, get, segment } from "../api.js";
import { clear, h, number, time } from "../dom.js";
import { jsonBlock } from "../json.js";
import { failed, go } from "../main.js";

export function snapshots(main, { params }) {
  const name = params.get("name") ?? "";
  const key = params.get("key") ?? "";
  const result = h("section", { id: "snapshot" });
  const form = h(
    "form",
    { className: "builder", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(form);
      go("snapshots", new URLSearchParams({ name: data.get("name"), key: data.get("key") }));
    } },
    h("div", { className: "row" },
      h("label", {}, "name", h("input", { type: "text", name: "name", value: name, required: true,
        placeholder: "course-state" })),
      h("label", {}, "key", h("input", { type: "text", name: "key", value: key, required: true,
        placeholder: "c1" })),
      h("button", { type: "submit" }, "Look up")),
  );
  clear(main, h("h1", {}, "Snapshots"), form, result);
  if (!name || !key) return undefined;
  (async () => {
    try {
      const found = await get(`/v1/snapshots/${segment(name)}/${segment(key)}`);
      clear(result,
        h("p", {}, `Folded up to position ${number(found.position)}, stored `, time(found.stored_at)),
        h("h2", {}, "State"), jsonBlock(found.state),
        h("h2", {}, "Metadata"), jsonBlock(found.metadata));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        clear(result, h("p", { className: "muted" }, `No snapshot ${name} for key ${key}.`));
      } else {
        failed(error);
      }
    }
  })();
  return undefined;
}
