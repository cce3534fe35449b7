// Overview: the store's figures, its types, and the newest events, kept live by a stream.
import { follow, get, read } from "../api.js";
import { bytes, clear, h, number, tags, time } from "../dom.js";
import { failed } from "../main.js";

const RECENT = 20;

export function overview(main) {
  let stream = null;
  let stopped = false;
  let refresh = null;
  const figures = h("div", { className: "figures" });
  const typeRows = h("tbody");
  const recentRows = h("tbody");
  const status = h("span", { className: "status", id: "overview-status" },
    h("span", { className: "dot" }), "connecting");
  let recent = [];

  clear(
    main,
    h("h1", {}, "Overview"),
    figures,
    h(
      "div",
      { className: "columns" },
      h(
        "section",
        {},
        h("h2", {}, "Event types"),
        h("div", { className: "table-wrap" }, h("table", { id: "overview-types" },
          h("thead", {}, h("tr", {}, h("th", {}, "type"), h("th", { className: "num" }, "events"))),
          typeRows)),
      ),
      h(
        "section",
        {},
        h("h2", {}, "Newest events ", status),
        h("div", { className: "table-wrap" }, h("table", { id: "overview-recent" },
          h("thead", {}, h("tr", {}, h("th", { className: "num" }, "position"), h("th", {}, "type"),
            h("th", {}, "tags"), h("th", { className: "hide-narrow" }, "recorded"))),
          recentRows)),
      ),
    ),
  );

  function showFigures(stats, typeCount) {
    const figure = (label, value, id) =>
      h("div", { className: "figure" }, h("div", { className: "muted" }, label),
        h("div", { className: "value", id }, value));
    clear(
      figures,
      figure("events", number(stats.events), "figure-events"),
      figure("head", number(stats.head), "figure-head"),
      figure("event types", number(typeCount), "figure-types"),
      figure("database", bytes(stats.database_bytes), "figure-bytes"),
      figure("last event", stats.last_recorded_at ? time(stats.last_recorded_at) : "–", "figure-last"),
    );
  }

  function showTypes(list) {
    clear(
      typeRows,
      [...list].sort((a, b) => b.count - a.count).map((t) =>
        h("tr", {},
          h("td", {}, h("a", { href: `#/types/${encodeURIComponent(t.type)}` }, t.type)),
          h("td", { className: "num" }, number(t.count)))),
    );
  }

  function showRecent() {
    clear(
      recentRows,
      recent.map((event) =>
        h("tr", { dataset: { position: event.position } },
          h("td", { className: "num" }, h("a", {
            href: `#/browse?${new URLSearchParams({ after: event.position - 1, limit: 1 })}`,
          }, event.position)),
          h("td", {}, event.type),
          h("td", {}, tags(event.tags)),
          h("td", { className: "hide-narrow" }, time(event.recorded_at)))),
    );
  }

  async function load() {
    const [stats, typeList] = await Promise.all([get("/v1/stats"), get("/v1/event-types")]);
    showFigures(stats, typeList.event_types.length);
    showTypes(typeList.event_types);
  }

  function later() {
    // Figures and types after a burst of events: at most one reload a second.
    if (refresh || stopped) return;
    refresh = setTimeout(() => {
      refresh = null;
      load().catch(failed);
    }, 1000);
  }

  (async () => {
    try {
      const [, newest] = await Promise.all([load(), read({ backwards: true, limit: RECENT })]);
      recent = newest.events;
      showRecent();
      if (stopped) return;
      stream = follow(new URLSearchParams(), newest.head, {
        onEvent(event) {
          recent = [event, ...recent].slice(0, RECENT);
          showRecent();
          later();
        },
        onStatus(state) {
          status.lastChild.textContent = state === "live" ? "live" : state;
          status.firstChild.className = `dot ${state === "live" ? "live" : "down"}`;
        },
      });
    } catch (error) {
      failed(error);
    }
  })();

  return () => {
    stopped = true;
    clearTimeout(refresh);
    if (stream) stream.close();
  };
}
