// Building the page's elements. Everything from the store goes in as text (text nodes and
// attribute values set as properties), never as HTML: stored data cannot run in the page.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && name !== "list") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function time(iso) {
  if (!iso) return "";
  const at = new Date(iso);
  return h("time", { dateTime: iso, title: iso }, at.toLocaleString());
}

export function tags(list) {
  return list.map((tag) => h("span", { className: "tag" }, tag));
}

export function number(value) {
  return value === null || value === undefined ? "–" : Number(value).toLocaleString();
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}
