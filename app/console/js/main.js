// The console: a hash router over five views, and what every view shares (the token prompt,
// notices). Each view renders into <main> and returns a function that stops it (streams).
import { ApiError, forgetToken, setToken, token } from "./api.js";
import { clear, h } from "./dom.js";
import { browse } from "./views/browse.js";
import { overview } from "./views/overview.js";
import { snapshots } from "./views/snapshots.js";
import { tail } from "./views/tail.js";
import { types } from "./views/types.js";

const VIEWS = { overview, browse, tail, types, snapshots };
const main = document.getElementById("view");
const notice = document.getElementById("notice");
const dialog = document.getElementById("token-dialog");
const tokenButton = document.getElementById("token-button");
let stop = () => {};

export function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  return {
    view: VIEWS[name] ? name : "overview",
    rest: rest.map(decodeURIComponent),
    params: new URLSearchParams(query),
  };
}

export function go(view, params, ...rest) {
  const path = [view, ...rest.map(encodeURIComponent)].join("/");
  const query = params && String(params) ? `?${params}` : "";
  location.hash = `#/${path}${query}`;
}

export function say(message, kind = "error") {
  notice.className = kind === "error" ? "" : "info";
  notice.textContent = message;
  notice.hidden = !message;
}

// What a failed request means to the person: a token prompt, a message, never a blank page.
export function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    askForToken(token() ? "The service does not know this token." : null);
    return;
  }
  if (error instanceof ApiError && error.status === 403) {
    const scope = error.problem.scope ? ` (it needs the scope ${error.problem.scope})` : "";
    say(`This token may not do that${scope}: ${error.message}`);
    return;
  }
  if (error instanceof ApiError) {
    say(`${error.problem.title || "Error"} (${error.status}): ${error.message}`);
    return;
  }
  say(`The service cannot be reached: ${error.message}`);
}

function askForToken(reason) {
  if (reason) document.getElementById("token-reason").textContent = reason;
  say("This service asks for a token.", "info");
  if (!dialog.open) dialog.showModal();
}

dialog.addEventListener("close", () => {
  const value = document.getElementById("token-input").value.trim();
  if (dialog.returnValue === "use" && value) {
    setToken(value);
    document.getElementById("token-input").value = "";
    render();
  }
});

document.getElementById("token-forget").addEventListener("click", () => {
  forgetToken();
  dialog.close();
  render();
});
tokenButton.addEventListener("click", () => askForToken(null));

function render() {
  stop();
  const current = route();
  say("");
  tokenButton.hidden = !token();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === current.view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clear(main, h("p", { className: "muted" }, "Loading…"));
  const stopView = VIEWS[current.view](main, current);
  stop = typeof stopView === "function" ? stopView : () => {};
}

window.addEventListener("hashchange", render);
render();
